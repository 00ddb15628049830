from integration.contexts import ContextConfig


class MissingMapConfig(ContextConfig):
    name = "tests.busapp.wiring.missing_map"
    label = "missing_map"
