"""Lightbox infrastructure: the deployable AWS definition (``package``, ``deploy``, ``sizes``) and the local stack
(``infrastructure.local``). See infrastructure/README.md."""
