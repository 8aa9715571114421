import lightkit


def test_all_is_sorted_and_complete():
    assert lightkit.__all__ == sorted(lightkit.__all__)
    for name in lightkit.__all__:
        assert getattr(lightkit, name) is not None


def test_errors_present_as_lightkit_members():
    assert lightkit.PluginNotFound.__module__ == "lightkit"
    assert issubclass(lightkit.PluginNotFound, lightkit.UsageError)
    assert lightkit.UsageError.exit_code == 2 and lightkit.DataError.exit_code == 1
