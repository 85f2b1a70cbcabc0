"""The bucketing sampler: coverage, budget, determinism, mid-epoch resume, DDP shards, padding."""

import numpy as np
import pytest

from seqlab.data.bucketing import DynamicBucketBatchSampler, RandomBatchSampler, padding_fraction


@pytest.fixture
def durations():
    # Varied lengths like a real corpus (1-16 s), plus one item longer than the batch budget.
    rng = np.random.default_rng(1)
    return [*rng.uniform(1.0, 16.0, size=500).round(2).tolist(), 45.0]


def test_every_item_once_and_budget_holds(durations):
    sampler = DynamicBucketBatchSampler(durations, max_batch_seconds=40.0, seed=3)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        flat = sorted(i for batch in batches for i in batch)
        assert flat == list(range(len(durations)))  # no drop, no repeat
        for batch in batches:
            cost = len(batch) * max(durations[i] for i in batch)
            assert cost <= 40.0 or len(batch) == 1  # only a lone long item may exceed it
    assert [len(durations) - 1] in batches  # the 45 s item is its own batch


def test_max_batch_size_caps_items():
    sampler = DynamicBucketBatchSampler([1.0] * 50, max_batch_seconds=100.0, max_batch_size=8)
    batches = list(sampler)
    assert max(len(b) for b in batches) == 8 and sum(map(len, batches)) == 50


def test_deterministic_per_seed_and_epoch(durations):
    def batches(seed, epoch):
        sampler = DynamicBucketBatchSampler(durations, 40.0, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert batches(0, 1) == batches(0, 1)
    assert batches(0, 1) != batches(0, 2)
    assert batches(0, 1) != batches(1, 1)


def test_unshuffled_is_sorted_by_length(durations):
    sampler = DynamicBucketBatchSampler(durations, 40.0, shuffle=False)
    order = [i for batch in sampler for i in batch]
    assert [durations[i] for i in order] == sorted(durations)


@pytest.mark.parametrize("sampler_cls", ["bucket", "random"])
def test_set_start_batch_resumes_with_the_rest(durations, sampler_cls):
    def make():
        if sampler_cls == "bucket":
            return DynamicBucketBatchSampler(durations, 40.0, seed=5)
        return RandomBatchSampler(durations, batch_size=16, seed=5)

    full = make()
    full.set_epoch(3)
    expected = list(full)
    resumed = make()  # a fresh process after a crash
    resumed.set_epoch(3)
    resumed.set_start_batch(7)
    assert len(resumed) == len(expected)  # __len__ is the full epoch
    assert list(resumed) == expected[7:]
    assert list(resumed) == expected  # the skip applied to one iteration only


@pytest.mark.parametrize("sampler_cls", ["bucket", "random"])
def test_two_replicas_split_the_epoch(durations, sampler_cls):
    def make(rank):
        if sampler_cls == "bucket":
            return DynamicBucketBatchSampler(durations, 41.0, seed=2, num_replicas=2, rank=rank)
        return RandomBatchSampler(durations, batch_size=19, seed=2, num_replicas=2, rank=rank)

    # Budgets chosen so that the global list has an odd count (133 and 27 batches): padded.
    single = list(
        DynamicBucketBatchSampler(durations, 41.0, seed=2)
        if sampler_cls == "bucket"
        else RandomBatchSampler(durations, batch_size=19, seed=2)
    )
    assert len(single) % 2 == 1
    rank0, rank1 = list(make(0)), list(make(1))
    assert len(rank0) == len(rank1) == len(make(0)) == -(-len(single) // 2)
    # Disjoint halves of the same global list; padding repeats batches from its start.
    assert rank0[: len(single) // 2] == single[0::2][: len(single) // 2]
    assert rank1[: len(single) // 2] == single[1::2][: len(single) // 2]
    assert rank1[-1] == single[0]
    seen = [i for b in rank0 + rank1 for i in b]
    assert set(seen) == set(range(len(durations)))
    overlap = {i for b in rank0 for i in b} & {i for b in rank1 for i in b}
    assert overlap <= set(single[0])  # only the padding batch may appear on both ranks


def test_bucketing_pads_less_than_random(durations):
    bucketed = list(DynamicBucketBatchSampler(durations, max_batch_seconds=160.0, seed=0))
    mean_size = round(np.mean([len(b) for b in bucketed]))
    random_batches = list(RandomBatchSampler(durations, batch_size=mean_size, seed=0))
    bucket_pad = padding_fraction(bucketed, durations)
    random_pad = padding_fraction(random_batches, durations)
    assert bucket_pad < 0.1 < random_pad
    assert padding_fraction([[0, 1]], [1.0, 3.0]) == pytest.approx(2.0 / 6.0)


def test_more_replicas_than_batches_still_equal_counts():
    shards = [list(RandomBatchSampler([1.0] * 4, 2, num_replicas=3, rank=r)) for r in range(3)]
    assert [len(s) for s in shards] == [1, 1, 1]
    dropped = [
        list(RandomBatchSampler([1.0] * 8, 2, num_replicas=3, rank=r, drop_last=True))
        for r in range(3)
    ]
    assert [len(s) for s in dropped] == [1, 1, 1]  # 4 batches truncated to 3


def test_random_sampler_covers_everything(durations):
    sampler = RandomBatchSampler(durations, batch_size=32, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(durations)))
    assert all(len(b) == 32 for b in batches[:-1]) and len(batches) == len(sampler)
