"""The print lab in the real local stack (``make dev``): a paid order's lab print goes from the jobs worker to the
emulator, and the emulator's signed callbacks reach the real /webhooks/print-lab, as they would with a real lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from infrastructure.local.devstack import REPO_ROOT
from infrastructure.local.stack import start_stack

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the stack tests run on Linux")

# Runs inside the stack's environment (its moto, its jobs queue): a paid order with one lab print, then order.paid.
WRITE_ORDER = """
import json, sys
from chalicelib import jobs
from chalicelib.models.base import new_id, now
from chalicelib.models.orders import Order, OrderLine, SellerOrder, ShippingAddress
from chalicelib.models.photos import Photo

buyer_id, seller_id = sys.argv[1], sys.argv[2]
photo_id, order_id = new_id("p"), new_id("o")
Photo(photo_id=photo_id, owner_id=seller_id, status="ready", content_type="image/jpeg", declared_size=1,
      upload_key="u", original_format="jpeg", variant_keys=["original"]).save()
line = OrderLine(item_id="i1", photo_id=photo_id, seller_id=seller_id, sku="print-8x10", kind="print",
                 label="8x10 print", quantity=1, unit_price_cents=2500, line_total_cents=2500, width_in=8,
                 height_in=10, paper="lustre", frame="none", fulfilment="lab")
Order(order_id=order_id, buyer_id=buyer_id, status="paid", currency="eur", items=[line], seller_ids=[seller_id],
      subtotal_cents=2500, total_cents=2500, paid_at=now(),
      shipping_address=ShippingAddress(name="B", line1="1 St", city="Paris", postal_code="75001", country="fr")).save()
SellerOrder(seller_id=seller_id, order_id=order_id, buyer_id=buyer_id, status="paid").save()
lines = [{"item_id": "i1", "photo_id": photo_id, "seller_id": seller_id, "client_id": None, "sku": "print-8x10",
          "kind": "print", "quantity": 1, "amount_cents": 2500, "fulfilment": "lab"}]
jobs.publish("order.paid", "order.paid:" + order_id, {"order_id": order_id, "buyer_id": buyer_id, "lines": lines})
print(order_id)
"""

READ_ORDER = """
import json, sys
from chalicelib.models.orders import Order
order = Order.get(sys.argv[1], consistent_read=True)
line = order.items[0]
print(json.dumps({"status": line.status, "lab_order_id": line.lab_order_id,
                  "tracking": line.tracking.as_dict() if line.tracking else None, "order_status": order.status}))
"""


def in_stack(stack, script: str, *args: str) -> str:
    env = {**stack.env, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def wait_for(predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_a_lab_print_goes_to_the_emulator_and_its_callbacks_move_it_to_delivered():
    with start_stack(timeout=120, extra_env={"LIGHTBOX_PRINT_LAB_STEP_SECONDS": "0"}) as stack:
        users = []
        for name in ("labbuyer", "labseller"):
            r = requests.post(
                stack.api_url + "/auth/signup",
                json={"email": f"{name}@example.com", "username": name, "password": "correct horse battery"},
                timeout=10,
            )
            assert r.status_code == 201, r.text
            users.append(r.json()["user"]["id"])
        order_id = in_stack(stack, WRITE_ORDER, *users)

        def lab_order():
            found = requests.get(stack.print_lab_url + "/_lab/orders", params={"merchant_reference": order_id}).json()
            return found["items"][0] if found["items"] else None

        at_lab = wait_for(lab_order)
        assert at_lab["order"]["recipient"]["address"]["countryCode"] == "FR"
        wait_for(lambda: json.loads(in_stack(stack, READ_ORDER, order_id))["status"] == "submitted")

        for _ in range(3):  # in_production, shipped, delivered
            requests.post(f"{stack.print_lab_url}/_lab/orders/{at_lab['id']}/advance", timeout=5).raise_for_status()
        sent = wait_for(
            lambda: (
                (v := requests.get(f"{stack.print_lab_url}/_lab/orders/{at_lab['id']}").json())["callbacks"][3:] and v
            )
        )
        assert [c["status"] for c in sent["callbacks"]] == [200, 200, 200, 200], sent["callbacks"]

        order = json.loads(in_stack(stack, READ_ORDER, order_id))
        assert order["status"] == "delivered" and order["order_status"] == "fulfilled"
        assert order["lab_order_id"] == at_lab["id"] and order["tracking"]["number"] == sent["tracking"]["number"]
        emails = wait_for(
            lambda: [
                m
                for m in requests.get(stack.emails_url, timeout=5).json()["items"]
                if "shipped" in m["subject"] and "labbuyer@example.com" in m["to"]
            ]
        )
        assert len(emails) == 1 and sent["tracking"]["number"] in emails[0]["text"]
    assert not os.path.exists(stack.log_path)
