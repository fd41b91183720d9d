"""The machine a run uses: numeric precision (``precision``), devices and processes
(``distributed``), memory floors checked before any work (``sizes``), the allocator
(``allocator``) and the torch/torchvision pairing (``environment``)."""
