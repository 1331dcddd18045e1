"""int8: the real LeNet quantised by NNCF on a search's own images, the archive kept in fp32."""

from __future__ import annotations

import json
import sys
import warnings

import pytest
import torch
from test_cli_errors import fails_with_one_line

import fooling
from fooling.classifiers import int8, load_classifier
from fooling.classifiers.int8 import Calibration
from fooling.cli import main
from fooling.encodings import make_encoding
from fooling.errors import FoolingError
from fooling.runs.progress import read_progress
from fooling.search.evolution import Evolution

pytest.importorskip("nncf")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty compiled-model cache, so that a test sees quantisation happen (or not)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "fooling" / "backends"


def lenet_int8():
    return load_classifier("lenet-mnist", "cpu", precision="int8")


def fp32_confidences(images: torch.Tensor, classes) -> torch.Tensor:
    """Each image's probability for its class from the torch LeNet in fp32."""
    reference = load_classifier("lenet-mnist", "cpu", precision="fp32", backend="torch")
    scored = reference(images.float().div(255))
    return scored.gather(1, torch.as_tensor(classes).view(-1, 1)).squeeze(1)


def test_an_int8_run_reports_and_resumes_with_fp32_values_only(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["evolve", "--encoding", "cppn", "--precision", "int8", "--admission", "fp32"]
    argv += ["--population", "50", "--generations", "15", "--out", str(run), "--quiet"]
    assert main(argv) == 0
    resume = ["evolve", "--resume", "--out", str(run), "--generations", "25", "--quiet"]
    capsys.readouterr()
    fails_with_one_line(capsys, [*resume, "--admission", "report"], "comes from its checkpoint")
    assert main(resume) == 0
    capsys.readouterr()

    result = fooling.load_run(run)
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["generations"], summary["admission"]) == (25, "fp32")
    # every elite, scored again by torch in fp32, has the confidence the run reported
    expected = fp32_confidences(result.images, result.classes)
    assert (result.confidences - expected).abs().max() < 1e-4
    rows = read_progress(run / "progress.csv")
    assert [row.generation for row in rows] == list(range(26))
    assert rows[0].rescored_share > 0.05  # at first most winners enter an empty archive
    rescored = sum(round(row.rescored_share * 50) for row in rows)
    assert summary["rescored_in_fp32"] == rescored > 0
    assert summary["rescored_share"] == pytest.approx(rescored / (26 * 50), abs=1e-6)


def test_an_offspring_whose_int8_score_is_too_high_does_not_enter():
    """The archive compares fp32 values only: an inflated score is scored again first."""
    classifier = lenet_int8()
    evolution = Evolution(classifier, make_encoding("cppn", (1, 28, 28)), population=4, seed=0,
                          admission="fp32")  # fmt: skip
    assert classifier.precision == "int8" and evolution.admission == "fp32"
    evolution.step()  # generation 0, scored by int8 and admitted in fp32
    first = evolution.rescored
    before = evolution.archive.confidence.clone()
    assert 0 < first <= 4
    offspring = evolution.ask()
    inflated = torch.zeros(4, 10)
    inflated[2, 3] = 1.0  # as if int8 said offspring 2 is a sure 3
    evolution.tell(offspring, inflated)
    truth = float(classifier.exact_probabilities(offspring.images)[2, 3])
    confidence = evolution.archive.confidence
    assert float(confidence[3]) == pytest.approx(max(float(before[3]), truth), abs=1e-6)
    assert float(confidence[3]) < 1.0
    assert torch.equal(confidence[[0, 1, 2, 4, 5, 6, 7, 8, 9]],
                       before[[0, 1, 2, 4, 5, 6, 7, 8, 9]])  # fmt: skip
    assert evolution.rescored == first + 1
    assert [row.rescored_share for row in evolution.progress()] == [first / 4, 0.25]
    evolution.tell(evolution.ask(), torch.zeros(4, 10))  # beats no elite: nothing scored again
    assert evolution.rescored == first + 1


def test_an_offspring_is_scored_again_when_it_beats_its_elite_in_the_same_precision():
    """The gate compares int8 with int8 (int8 reads evolved images lower than fp32 does)."""
    classifier = lenet_int8()
    evolution = Evolution(classifier, make_encoding("cppn", (1, 28, 28)), population=6, seed=2,
                          admission="fp32")  # fmt: skip
    for _ in range(8):
        evolution.step()
    archive, admit = evolution.archive, evolution.admit
    # each elite's screen is its own int8 score, whatever its fp32 confidence
    own = classifier(archive.images.float().div(255)).gather(1, archive.classes.view(-1, 1))
    assert torch.allclose(admit.screen, own.squeeze(1), atol=1e-3)
    assert torch.equal(admit.screened, archive.confidence)
    assert (admit.screen - archive.confidence).abs().max() > 1e-3  # (the two differ)

    def offer(score: float, cell: int = 3) -> int:
        """How many offspring are scored again when one says `score` for `cell`'s class."""
        before = evolution.rescored
        probabilities = torch.zeros(6, 10)
        probabilities[0, cell] = score
        evolution.tell(evolution.ask(), probabilities)
        return evolution.rescored - before

    screen = float(admit.screen[3])
    assert offer(screen - 1e-4) == 0
    assert offer(screen + 1e-4) == 1
    # an elite put in from elsewhere (a migrant) is screened by its own int8 score
    with torch.inference_mode():  # (the archive's tensors are inference tensors)
        archive.images[5], archive.confidence[5] = archive.images[2], 0.5
    migrant = float(classifier(archive.images[5:6].float().div(255))[0, archive.classes[5]])
    assert abs(migrant - 0.5) > 1e-3
    assert offer(migrant - 1e-4, cell=5) == 0 and offer(migrant + 1e-4, cell=5) == 1

    resumed = Evolution.from_state_dict(evolution.state_dict(), classifier)
    assert torch.equal(resumed.admit.screen, admit.screen)
    assert torch.equal(resumed.admit.screened, admit.screened)


def test_report_time_admission_reports_fp32_too():
    classifier = lenet_int8()
    evolution = Evolution(classifier, make_encoding("direct", (1, 28, 28)), population=40,
                          seed=1, admission="report")  # fmt: skip
    result = evolution.run(10, progress=False)
    assert result.admission == "report" and result.rescored == 0
    assert (result.confidences - fp32_confidences(result.images, result.classes)).abs().max() < 1e-4


def test_an_unknown_admission_or_one_that_cannot_apply_is_refused_in_one_line():
    classifier, encoding = lenet_int8(), make_encoding("direct", (1, 28, 28))
    with pytest.raises(FoolingError, match=r"^admission must be one of fp32, report, got 'later'$"):
        Evolution(classifier, encoding, population=10, admission="later")
    with pytest.raises(FoolingError, match=r"^fp32 admission scores with the classifier, not"):
        Evolution(classifier, encoding, population=10, evaluator=classifier, admission="fp32")


def test_each_encoding_calibrates_its_own_model_once(fresh_cache, monkeypatch):
    classifier = lenet_int8()
    assert classifier(torch.rand(2, 1, 28, 28)).shape == (2, 10)  # fp32 until calibrated
    for name in ("cppn", "direct"):
        classifier.calibrate(Calibration.of(make_encoding(name, (1, 28, 28))))
        assert classifier.precision == "int8"
        assert classifier.identity()["calibration"] == classifier.calibration.key()
    assert len(list(fresh_cache.glob("openvino-int8-*/model.xml"))) == 2

    import nncf

    def no_quantising(*args, **kwargs):
        raise AssertionError("the cached model should have been used")

    monkeypatch.setattr(nncf, "quantize", no_quantising)
    again = lenet_int8()
    again.calibrate(Calibration.of(make_encoding("cppn", (1, 28, 28))))
    assert again.precision == "int8"
    images = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again(images), pickle_round_trip(again)(images))


@pytest.mark.parametrize("damage", [b"", b"<net>not a model", b"\x00garbage\xff"])
def test_a_damaged_int8_cache_entry_is_quantised_again_in_one_line(fresh_cache, damage):
    calibration = Calibration.of(make_encoding("direct", (1, 28, 28)))
    lenet_int8().calibrate(calibration)
    (cached,) = fresh_cache.glob("openvino-int8-*/model.xml")
    cached.write_bytes(damage)
    classifier = lenet_int8()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        classifier.calibrate(calibration)
    (warning,) = [str(w.message) for w in caught if "fooling:" in str(w.message)]
    assert "\n" not in warning and f"the cached int8 model in {cached.parent}" in warning
    assert warning.endswith("it was quantised again")
    assert classifier.precision == "int8" and cached.stat().st_size > 1000
    with warnings.catch_warnings(record=True) as caught:  # the next start is quiet
        warnings.simplefilter("always")
        lenet_int8().calibrate(calibration)
    assert not [w for w in caught if "fooling:" in str(w.message)]


def pickle_round_trip(classifier):
    import pickle

    return pickle.loads(pickle.dumps(classifier))  # as a Ray island receives it


@pytest.mark.parametrize("failure", ["disagrees", "fails"])
def test_an_int8_model_that_fails_its_check_is_left_in_one_line(fresh_cache, monkeypatch, failure):
    if failure == "disagrees":
        monkeypatch.setattr(int8, "TOP1_AGREEMENT", 1.01)  # more than any model can agree
    else:
        import nncf

        def broken(*args, **kwargs):
            raise RuntimeError("quantiser exploded\nin a second line")

        monkeypatch.setattr(nncf, "quantize", broken)
    classifier = lenet_int8()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evolution = Evolution(classifier, make_encoding("cppn", (1, 28, 28)), population=20)
    (warning,) = [str(w.message) for w in caught if "fooling:" in str(w.message)]
    assert "\n" not in warning and warning.startswith("fooling: lenet-mnist ")
    why = "probe images (at least 101% needed)" if failure == "disagrees" else "in a second line"
    assert why in warning
    assert classifier.precision in ("fp32", "bf16") and warning.endswith(classifier.precision)
    assert evolution.admission == (None if classifier.precision == "fp32" else "report")
    assert "calibration" not in classifier.identity()
    evolution.run(3, progress=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--backend", "torch"], "--precision int8 runs on OpenVINO, not on --backend torch"),
        (["--backend", "onnxruntime"], "runs on OpenVINO, not on --backend onnxruntime"),
        ([], 'needs NNCF: pip install "fooling[int8]"'),
        (["--against", "msp"], "torch features, where --precision int8 does not apply"),
    ],
)
def test_int8_where_it_cannot_run_is_refused_in_one_line(tmp_path, capsys, monkeypatch, options,
                                                         message):  # fmt: skip
    if not options:
        monkeypatch.setitem(sys.modules, "nncf", None)  # as if NNCF were not installed
    out = tmp_path / "run"
    argv = ["evolve", "--precision", "int8", *options, "--generations", "2", "--out", str(out)]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not out.exists()


def test_only_a_search_offers_int8(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["classify", "--precision", "int8", "image.png"])
    assert exit_.value.code == 2
    assert "invalid choice: 'int8'" in capsys.readouterr().err
