"""propagate: a mask drawn on frame 1 carried through a synthetic-but-real shot (a real
cut-out moving non-rigidly over a panning real photo, tests/motion_data.py) with known
masks; against holding the first mask and chaining OpenCV's DIS optical flow."""
import cv2
import numpy as np
import pytest

import graph
from graph.errors import GraphError, NodeFailure
from tests import motion_data

pytest.importorskip("skimage.data")
FRAMES = 60


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shot")
    frames, masks = motion_data.make_clip(FRAMES)
    for index, (frame, mask) in enumerate(zip(frames, masks)):
        codes = np.clip(np.rint(frame[..., :3] ** (1 / 2.2) * 255), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"plate.{index + 1:04d}.png"), codes[:, :, ::-1])
        cv2.imwrite(str(folder / f"mask.{index + 1:04d}.png"),
                    np.rint(mask * 255).astype(np.uint8))
    plates = [graph.load(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: '{folder}/plate.{i + 1:04d}.png'}}\n")
              .evaluate(["r"], memory=None)["r"] for i in range(FRAMES)]
    return folder, plates, masks


def propagate_graph(folder, keyframes):
    return graph.load(
        f"maskgraph: 1\nnodes:\n"
        f"  plate: {{type: read, path: '{folder}/plate.####.png'}}\n"
        f"  drawn: {{type: read_mask, path: '{folder}/mask.####.png'}}\n"
        f"  carried: {{type: propagate, input: plate, mask: drawn, keyframes: {keyframes}}}\n")


def test_one_keyframe_carries_the_mask_through_the_shot(shot):
    folder, plates, masks = shot
    g = propagate_graph(folder, [1])
    ours = []
    for frame in range(1, FRAMES + 1):
        carried = g.evaluate(["carried"], frame=frame)["carried"]
        assert carried.shape == masks[0].shape and 0 <= carried.min() and carried.max() <= 1
        ours.append(motion_data.iou(carried, masks[frame - 1]))
    hold = [motion_data.iou(masks[0], mask) for mask in masks]
    dis = [motion_data.iou(warped, mask)
           for warped, mask in zip(motion_data.dis_chain(plates, masks[0]), masks)]
    print(f"mean IoU: propagate {np.mean(ours):.3f} (min {np.min(ours):.3f}), "
          f"hold {np.mean(hold):.3f}, OpenCV DIS chained {np.mean(dis):.3f}")
    assert np.mean(ours) >= 0.9 and np.min(ours) >= 0.8
    assert np.mean(ours) > np.mean(hold) + 0.2 and np.mean(ours) > np.mean(dis) + 0.2


def test_two_keyframes_are_exact_on_the_keys_and_blend_between(shot):
    folder, _, masks = shot
    g = propagate_graph(folder, [1, 30])
    np.testing.assert_allclose(g.evaluate(["carried"], frame=30)["carried"],
                               np.rint(masks[29] * 255) / 255, atol=1e-6)
    middle = g.evaluate(["carried"], frame=15)["carried"]
    assert motion_data.iou(middle, masks[14]) >= 0.9
    after = g.evaluate(["carried"], frame=40)["carried"]  # past the last key: forward only
    assert motion_data.iou(after, masks[39]) >= 0.9


def test_bad_keyframes_are_a_load_error(shot):
    folder, _, _ = shot
    with pytest.raises(GraphError, match="keyframes.*whole frame numbers"):
        propagate_graph(folder, "[1.5]")


def test_mask_of_another_size_is_a_placed_error(shot):
    folder, _, _ = shot
    text = (f"maskgraph: 1\nnodes:\n"
            f"  plate: {{type: read, path: '{folder}/plate.####.png'}}\n"
            f"  drawn: {{type: ellipse, width: 64, height: 64, center: [32, 32], radius: [9, 9]}}\n"
            f"  carried: {{type: propagate, input: plate, mask: drawn, keyframes: [1]}}\n")
    with pytest.raises(NodeFailure, match="node 'carried' \\(propagate\\).*keyframe 1 is 64x64"):
        graph.load(text).evaluate(["carried"], frame=3, memory=None)


def test_upsampling_and_refit_on_the_subjects_box_equal_the_whole_frame(shot):
    """The guided upsample and the edge refit run on the box around the subject's edge
    only; outside it the filter has nothing to move, so the result is the whole frame's."""
    from nodes import propagate
    from nodes.semantic import Working, guided_upsample
    _, plates, masks = shot
    image = np.ascontiguousarray(cv2.resize(plates[20], (1024, 768)))  # factor 2 at 512
    working = propagate._working(image, 2)
    low = cv2.resize(masks[20], (512, 384), interpolation=cv2.INTER_AREA).astype(np.float32)
    for mask in (low, 1 - low):  # a subject, and a hole in a mask that is mostly 1
        whole = guided_upsample(image, mask, 3.0, propagate.REFIT_EPS,
                                Working(2, None, working.guide))
        boxed = propagate._upsample(image, mask, working.guide, 2)
        np.testing.assert_allclose(boxed, whole, atol=2e-5)
        assert 0.0 < whole.mean() < 1.0


def test_a_long_gap_reads_the_plate_one_frame_at_a_time(shot, monkeypatch):
    """Between keyframes 1 and 60, frame 30 needs every plate frame of the gap: they are
    read one at a time (the plate input is lazy), not all held at once."""
    import weakref
    from nodes import io, propagate
    folder, _, masks = shot
    live, most, order = [], [0], []
    original = io.read.compute

    def watched(**kwargs):
        out = original(**kwargs)
        if "plate" in kwargs["path"]:
            order.append(int(kwargs["path"][-8:-4]))
            live.append(weakref.ref(out))
            most[0] = max(most[0], sum(ref() is not None for ref in live))
        return out

    monkeypatch.setattr(io.read, "compute", watched)
    propagate._MEMO.clear()  # nothing remembered from the tests above
    g = propagate_graph(folder, [1, 60])
    carried = g.evaluate(["carried"], frame=30, memory=None)["carried"]
    assert motion_data.iou(carried, masks[29]) >= 0.9
    assert sorted(order) == list(range(1, 61))  # the whole gap was read, each frame once,
    assert order[1:] == sorted(order[1:])  # in frame order after the frame itself (a video
    assert most[0] <= 3  # decodes forward), holding that frame and the one being looked at
