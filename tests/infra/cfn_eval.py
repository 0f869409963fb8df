"""A small evaluator of the CloudFormation intrinsics our parameter wiring uses (Ref to parameters, Fn::If with
the template's conditions, Fn::Join/Split/Select/Sub), so tests can check what a value becomes for given
parameter values instead of comparing expression trees."""

from __future__ import annotations

import re
from typing import Any

NO_VALUE = object()


class Evaluator:
    def __init__(self, template: dict, **parameters: Any) -> None:
        self.template = template
        self.params: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            value = parameters.get(name, spec.get("Default"))
            if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",")
            self.params[name] = value

    def condition(self, name: str) -> bool:
        return bool(self(self.template["Conditions"][name]))

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not (next(iter(value)) == "Ref" or next(iter(value)).startswith(("Fn::", "Condition"))):
            return {k: v for k, v in ((k, self(v)) for k, v in value.items()) if v is not NO_VALUE}
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else self.params[arg]
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::If":
            name, yes, no = arg
            return self(yes if self.condition(name) else no)
        if fn == "Fn::Not":
            return not self(arg[0])
        if fn == "Fn::Equals":
            return self(arg[0]) == self(arg[1])
        if fn == "Fn::Or":
            return any(self(a) for a in arg)
        if fn == "Fn::And":
            return all(self(a) for a in arg)
        if fn == "Fn::Join":
            return arg[0].join(self(arg[1]))
        if fn == "Fn::Split":
            return self(arg[1]).split(arg[0])
        if fn == "Fn::Select":
            return self(arg[1])[int(arg[0])]
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            known = {**self.params, **{k: self(v) for k, v in variables.items()}}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(known.get(m.group(1), m.group(0))), text)
        raise NotImplementedError(fn)
