"""Models of the user's own: the real LeNet as TorchScript, torch.export and ONNX files, fooled."""

import json
import pickle
import shutil
import warnings

import pytest
import torch

import fooling
from fooling.classifiers import load_classifier
from fooling.classifiers import user_models as user_models_module
from fooling.cli import main
from fooling.data.mnist import load_mnist
from fooling.errors import FoolingError


@pytest.fixture(scope="module")
def exported(tmp_path_factory, lenet):
    """The shipped LeNet in every file format a user may bring."""
    folder = tmp_path_factory.mktemp("exported")
    net = lenet.model.to(memory_format=torch.contiguous_format)
    example = torch.rand(2, 1, 28, 28)
    files = {"torchscript": folder / "lenet.ts", "export": folder / "lenet.pt2"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript and its ONNX exporter
        torch.jit.script(net).save(files["torchscript"])
        for name, batch in (("onnx", {0: "n"}), ("onnx_batch_1", None)):
            files[name] = folder / f"{name}.onnx"
            torch.onnx.export(
                net, (example[:1] if batch is None else example,), files[name], dynamo=False,
                input_names=["x"], output_names=["scores"],
                dynamic_axes=None if batch is None else {"x": batch, "scores": batch},
            )  # fmt: skip
    batch = ({0: torch.export.Dim("batch")},)
    torch.export.save(torch.export.export(net, (example,), dynamic_shapes=batch), files["export"])
    lenet.model.to(memory_format=torch.channels_last)
    return files


@pytest.mark.parametrize("kind", ["torchscript", "export", "onnx", "onnx_batch_1"])
def test_an_exported_lenet_scores_as_the_original(lenet, exported, kind):
    shape = None if kind.startswith("onnx") else (1, 28, 28)  # ONNX files state their shape
    classifier = load_classifier(str(exported[kind]), "cpu", input_shape=shape, backend="torch")
    assert classifier.input_shape == (1, 28, 28) and classifier.num_classes == 10
    assert classifier.differentiable == (not kind.startswith("onnx"))
    images = load_mnist("test")[0][:300].view(-1, 1, 28, 28)  # 300: batch 1 pads nothing
    original = load_classifier("lenet-mnist", "cpu", backend="torch")  # each on its own path
    assert torch.allclose(classifier(images), original(images), atol=1e-5)


@pytest.mark.parametrize("kind", ["torchscript", "onnx"])
def test_an_exported_lenet_is_fooled(exported, kind):
    options = {"input_shape": (1, 28, 28)} if kind == "torchscript" else {}
    classifier = load_classifier(str(exported[kind]), "cpu", **options)
    result = fooling.evolve(
        classifier, encoding="cppn", generations=40, population=100, seed=0, classes=[3, 7],
        progress=False,
    )  # fmt: skip
    assert result.fooled(0.99) == 2, result.confidences


def test_the_command_line_takes_a_model_file_with_labels(exported, tmp_path, capsys):
    labels = tmp_path / "digits.txt"
    labels.write_text("\n".join(f"digit {d}" for d in range(10)) + "\n")
    out = tmp_path / "run"
    argv = ["evolve", "--classifier", str(exported["onnx"]), "--labels", str(labels)]
    argv += ["--classes", "digit 4", "--generations", "5", "--population", "20"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["classifier"] == "onnx.onnx"
    assert [cell["label"] for cell in summary["classes"]] == ["digit 4"]


def test_torchscript_needs_its_input_shape(exported, capsys):
    assert main(["classify", "--classifier", str(exported["torchscript"]), "x.png"]) == 2
    assert "--input-shape C H W" in capsys.readouterr().err


def test_a_wrong_label_count_is_refused(exported, tmp_path):
    labels = tmp_path / "three.txt"
    labels.write_text("a\nb\nc\n")
    with pytest.raises(FoolingError, match="3 labels but the model has 10 outputs"):
        load_classifier(str(exported["onnx"]), "cpu", labels=labels)


def test_a_wrong_input_shape_is_refused(exported):
    with pytest.raises(FoolingError, match="fails on one image of shape"):
        load_classifier(str(exported["torchscript"]), "cpu", input_shape=(3, 32, 32))


@pytest.mark.parametrize("suffix", [".onnx", ".pt2", ".ts"])
def test_a_file_that_is_no_model_is_refused(tmp_path, suffix):
    path = tmp_path / f"photo{suffix}"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not a model")
    with pytest.raises(FoolingError, match=str(path)):
        load_classifier(str(path), "cpu", input_shape=(1, 28, 28))


def test_options_for_a_model_file_are_refused_for_a_built_in():
    with pytest.raises(FoolingError, match="takes no --input-shape"):
        load_classifier("lenet-mnist", "cpu", input_shape=(1, 28, 28))


@pytest.mark.parametrize("hub", ["torchvision", "timm"])
def test_a_missing_model_library_is_named(monkeypatch, hub):
    real = user_models_module.importlib.import_module

    def without_hub(name, *args):
        if name == hub:
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(user_models_module.importlib, "import_module", without_hub)
    with pytest.raises(FoolingError, match=f"pip install {hub}"):
        load_classifier(f"{hub}:resnet18", "cpu")


def test_an_onnx_classifier_travels_as_its_bytes_checked_by_sha256(exported, tmp_path):
    file = tmp_path / "lenet.onnx"
    shutil.copy(exported["onnx"], file)
    classifier = load_classifier(str(file), "cpu")
    file.unlink()  # a worker on another machine has no such file
    copied = pickle.loads(pickle.dumps(classifier))
    images = torch.rand(8, 1, 28, 28)
    assert torch.equal(copied(images), classifier(images))
    assert copied.identity() == classifier.identity()
    state = classifier.model.__getstate__()
    state["data"] = state["data"][:-1] + bytes([state["data"][-1] ^ 1])
    damaged = object.__new__(type(classifier.model))
    with pytest.raises(FoolingError, match="changed on their way here"):
        damaged.__setstate__(state)


@pytest.mark.parametrize("kind", ["torchscript", "export"])
def test_a_model_file_classifier_pickles_as_the_file_it_came_from(exported, kind, tmp_path):
    file = tmp_path / exported[kind].name
    shutil.copy(exported[kind], file)
    classifier = load_classifier(str(file), "cpu", input_shape=(1, 28, 28), backend="torch")
    data = pickle.dumps(classifier)  # what Ray sends a worker on another machine
    file.unlink()  # which has no such file
    copied = pickle.loads(data)
    images = torch.rand(8, 1, 28, 28)
    assert torch.equal(copied(images), classifier(images))
    assert copied.identity() == classifier.identity()
    file.write_bytes(exported[kind].read_bytes()[:-1])
    with pytest.raises(FoolingError, match="changed after"):
        pickle.dumps(classifier)
