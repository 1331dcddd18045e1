"""A search's state in memory: state_dict, pickling across processes, deep copies, settings."""

import copy
import pickle
import subprocess
import sys

import pytest
import torch

import fooling
from fooling.encodings import CPPNEncoding, DirectEncoding, encoding_from_settings, make_encoding
from fooling.runs.state import load_state, save_state
from fooling.search import Evolution, SearchResult


def same_outcome(a: SearchResult, b: SearchResult) -> None:
    assert torch.equal(a.confidences, b.confidences)
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.found_at, b.found_at)
    assert a.genomes.keys() == b.genomes.keys()
    for key in a.genomes:
        assert torch.equal(a.genomes[key], b.genomes[key]), key
    assert a.evaluations == b.evaluations and a.generations == b.generations
    strip = [(row.generation, row.evaluations, row.median_confidence, row.fooled)
             for row in a.history]  # fmt: skip
    assert strip == [(row.generation, row.evaluations, row.median_confidence, row.fooled)
                     for row in b.history]  # fmt: skip


def cppn_search(lenet) -> Evolution:
    return Evolution(lenet, make_encoding("cppn", (1, 28, 28)), population=40, seed=5)


PICKLED_RUN = """
import pickle, sys
with open(sys.argv[1], "rb") as file:
    evolution = pickle.load(file)
result = evolution.run(30, progress=False)
with open(sys.argv[2], "wb") as file:
    pickle.dump(result, file)
"""


def test_a_running_cppn_search_moves_to_another_process_through_pickle(lenet, tmp_path):
    straight = cppn_search(lenet).run(30, progress=False)

    moving = cppn_search(lenet)
    moving.run(12, progress=False)
    assert moving.encoding.native is not None  # the C kernels were in use before the move
    sent, back = tmp_path / "search.pickle", tmp_path / "result.pickle"
    sent.write_bytes(pickle.dumps(moving))
    subprocess.run([sys.executable, "-c", PICKLED_RUN, str(sent), str(back)], check=True,
                   timeout=300)  # fmt: skip
    same_outcome(pickle.loads(back.read_bytes()), straight)


def test_a_deep_copy_continues_as_the_original_does(lenet):
    original = cppn_search(lenet)
    original.run(8, progress=False)
    twin = copy.deepcopy(original)
    assert twin.encoding.native is not None and twin.encoding is not original.encoding
    same_outcome(twin.run(20, progress=False), original.run(20, progress=False))


@pytest.mark.parametrize("encoding", ["direct", "cppn"])
def test_state_dict_round_trip_continues_exactly(lenet, encoding):
    straight = Evolution(lenet, make_encoding(encoding, (1, 28, 28)), population=30, seed=1)
    straight = straight.run(20, progress=False)
    first = Evolution(lenet, make_encoding(encoding, (1, 28, 28)), population=30, seed=1)
    first.run(9, progress=False)
    state = first.state_dict()
    first.run(15, progress=False)  # the state taken above must not move with it
    rebuilt = Evolution.from_state_dict(state, lenet)
    assert rebuilt.generation == 9 and rebuilt.encoding.settings() == first.encoding.settings()
    same_outcome(rebuilt.run(20, progress=False), straight)


def test_a_state_loads_only_into_a_run_with_its_settings(lenet):
    evolution = Evolution(lenet, make_encoding("direct", (1, 28, 28)), population=10, seed=0)
    evolution.run(2, progress=False)
    state = evolution.state_dict()
    other = Evolution(lenet, make_encoding("direct", (1, 28, 28)), population=12, seed=0)
    with pytest.raises(fooling.FoolingError, match="population"):
        other.load_state_dict(state)
    mnist_only = fooling.Classifier(copy.deepcopy(lenet.model), input_shape=(1, 28, 28),
                                    labels=list("0123456789"), name="other")  # fmt: skip
    with pytest.raises(fooling.FoolingError, match="classifier"):
        Evolution.from_state_dict(state, mnist_only)


@pytest.mark.parametrize(
    "encoding",
    [
        DirectEncoding((3, 16, 16), rate=0.2, halve_every=50, eta=10.0),
        CPPNEncoding((1, 28, 28), max_hidden=5, add_node=0.3, weight_rate=0.2, eta=20.0),
    ],
    ids=["direct", "cppn"],
)
def test_encodings_are_rebuilt_from_their_settings(encoding):
    rebuilt = encoding_from_settings(encoding.settings())
    assert type(rebuilt) is type(encoding) and rebuilt.settings() == encoding.settings()
    for twin in (pickle.loads(pickle.dumps(encoding)), copy.deepcopy(encoding)):
        assert twin.settings() == encoding.settings()
        genomes = encoding.random(3, torch.Generator().manual_seed(0))
        assert torch.equal(twin.render(genomes), encoding.render(genomes))


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"encoding": "genetic"}, "no known encoding"),
        ({"encoding": "direct", "image_shape": [1, 28]}, "image shape"),
        ({"encoding": "direct", "image_shape": [1, 28, 28]}, "incomplete"),
        ({**CPPNEncoding((1, 8, 8)).settings(), "activations": ["sine"]}, "activation"),
        ({**CPPNEncoding((1, 8, 8)).settings(), "rates": "fast"}, "incomplete"),
    ],
)
def test_bad_saved_settings_are_one_clear_error(settings, match):
    with pytest.raises(fooling.FoolingError, match=match):
        encoding_from_settings(settings)


def test_a_state_file_holds_nested_tensors_and_data_and_refuses_foreign_files(tmp_path):
    state = {
        "archive": {"confidence": torch.tensor([0.5, 0.9]), "empty": None},
        "settings": {"rates": {"fooled_at_0.99": 1}},
        "history": torch.zeros(0, 8),
    }
    path = save_state(tmp_path / "state.safetensors", state, kind="fooling-test-1")
    back = load_state(path, kind="fooling-test-1")
    assert torch.equal(back["archive"]["confidence"], state["archive"]["confidence"])
    assert back["archive"]["empty"] is None and back["settings"] == state["settings"]
    assert back["history"].shape == (0, 8)
    with pytest.raises(fooling.FoolingError, match="not 'fooling-checkpoint-2'"):
        load_state(path, kind="fooling-checkpoint-2")
    with pytest.raises(ValueError, match="dots"):
        save_state(tmp_path / "bad.safetensors", {"a.b": torch.ones(1)}, kind="fooling-test-1")
    (tmp_path / "junk.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(fooling.FoolingError, match="unreadable"):
        load_state(tmp_path / "junk.safetensors", kind="fooling-test-1")
