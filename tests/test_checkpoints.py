"""When a run writes its checkpoints: every 50 generations unless writing them costs more
than 5% of the run's time (timed here on a clock of the test's own, not the wall's)."""

import pytest

import fooling
from fooling.search import driver
from fooling.search.checkpoints import CheckpointSchedule
from fooling.search.evolution import Evolution


def test_a_given_interval_is_kept_however_long_a_checkpoint_takes():
    now = [0.0]
    schedule = CheckpointSchedule(5, clock=lambda: now[0])
    due = []
    for generation in range(21):
        now[0] += 1.0
        if schedule.due(generation):
            schedule.write(generation, lambda: now.__setitem__(0, now[0] + 1000.0))
            due.append(generation)
    assert due == [0, 5, 10, 15, 20]


def test_by_default_a_costly_checkpoint_waits_for_a_later_multiple_of_fifty():
    now, costs = [0.0], [10.0, 2.0, 2.0]
    schedule = CheckpointSchedule(clock=lambda: now[0])  # one second a generation
    due = []
    for generation in range(401):
        now[0] += 1.0
        if schedule.due(generation):
            # the first takes 10 s: the next is due once 190 s (19 times that) have passed,
            # and so is each after it, though they take less (the slowest decides)
            schedule.write(generation, lambda: now.__setitem__(0, now[0] + costs.pop(0)))
            due.append(generation)
    assert due == [0, 200, 400]


def test_a_resumed_or_distributed_run_saves_at_the_first_generation_past_a_multiple():
    schedule = CheckpointSchedule(saved=6400, clock=lambda: 0.0)
    assert not schedule.due(6420) and not schedule.due(6449)
    assert schedule.due(6457)  # the first merge of islands past 6450
    assert not schedule.due(6460)  # checked at 6457, saved or not
    assert schedule.due(6500)


@pytest.mark.parametrize(("cost", "every", "expected"), [
    (0.0, None, [0, 50, 100, 150, 200, 250, 300]),  # cheap: every 50, as always
    (5.0, None, [0, 100, 200, 300]),  # 5 s a checkpoint, 1 s a generation: 95 s between
    (100.0, None, [0, 300]),  # at the start and the end only
    (100.0, 50, [0, 50, 100, 150, 200, 250, 300]),  # as the caller asked
])  # fmt: skip
def test_a_run_writes_its_checkpoints_by_their_cost(lenet, tmp_path, monkeypatch, cost, every,
                                                     expected):  # fmt: skip
    saved, lost = [], [0.0]  # the generations checkpointed; seconds spent writing them
    running: list[Evolution] = []
    write = Evolution.save

    def timed_save(evolution, folder):
        running[:] = [evolution]
        saved.append(evolution.generation)
        lost[0] += cost
        return write(evolution, folder)

    def clock():  # a second a generation, plus the checkpoints' cost
        return (running[0].generation if running else 0) + lost[0]

    monkeypatch.setattr(Evolution, "save", timed_save)
    monkeypatch.setattr(
        driver,
        "CheckpointSchedule",
        lambda every, saved: CheckpointSchedule(every, saved=saved, clock=clock),
    )
    fooling.evolve(lenet, generations=300, population=10, out=tmp_path / "run", progress=False,
                   checkpoint_every=every)  # fmt: skip
    assert saved == expected  # and the end of the run, once
