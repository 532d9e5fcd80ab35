"""Channel adapters: each turns platform updates into desk inputs and renders replies."""
