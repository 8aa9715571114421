import lightkit


def test_all_is_sorted_and_complete():
    assert lightkit.__all__ == sorted(lightkit.__all__)
    for name in lightkit.__all__:
        assert getattr(lightkit, name) is not None


def test_errors_present_as_lightkit_members():
    assert lightkit.PluginNotFound.__module__ == "lightkit"
    assert issubclass(lightkit.PluginNotFound, lightkit.UsageError)
    assert lightkit.UsageError.exit_code == 2 and lightkit.DataError.exit_code == 1


def test_the_public_api_is_exactly_this():
    """Adding or removing a public name is a decision: this list changes with it."""
    assert lightkit.__all__ == [
        "CheckpointError",
        "ConfigError",
        "DataError",
        "InMemoryDataModule",
        "LightkitCLI",
        "LightkitError",
        "Plugin",
        "PluginBroken",
        "PluginCollision",
        "PluginError",
        "PluginNotFound",
        "Run",
        "TensorBatchLoader",
        "UsageError",
        "list_plugins",
        "load_run",
        "main",
        "onnx_predictor",
    ]
