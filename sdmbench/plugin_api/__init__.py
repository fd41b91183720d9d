"""What plugins build on: the hooks (``hookspecs``), the loader that collects plugins
(``loader``), registries and the contracts every entry is checked against (``registry``,
``contracts``), the model and neuron contracts (``model``, ``neuron``), shared command groups
(``commands``) and the pytest fixtures plugin authors test with (``testing``)."""
