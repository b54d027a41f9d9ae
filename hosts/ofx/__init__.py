"""The Memmatte OpenFX image effect (C++, LibTorch) and its build; docs/hosts/openfx.md."""
