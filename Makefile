# The two commands of the README. Both set up .venv/ first (idempotent; the
# first run on a machine builds mmcv once, 6-12 minutes on 2 cores).
PYTHON := .venv/bin/python
# The tools import this checkout's mmfasternet (tools/ scripts leave sys.path
# alone), also where the venv's editable install points at another checkout.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
DEMO_CONFIG := configs/demo/maskrcnn_fasternet_t0_shapes_demo.py
DEMO_WORK := work_dirs/demo_maskrcnn_fasternet_t0

.PHONY: setup demo demo-rtmdet demo-backbone demo-seg demo-cls test

setup:
	bash tools/setup_env.sh

# Detection demo: synthetic COCO-format data, Mask R-CNN with FasterNet-T0
# trained from scratch on the CPU, then tested with bbox and segm AP and the
# predictions on every validation image drawn under $(DEMO_WORK)/test/vis.
demo: setup
	$(PYTHON) tools/misc/make_demo_data.py coco data/demo_coco
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK)
	$(PYTHON) tools/test.py $(DEMO_CONFIG) "$$(cat $(DEMO_WORK)/last_checkpoint)" \
		--work-dir $(DEMO_WORK)/test --eval bbox segm --show-dir vis

# Real-time detection demo: the same data, RTMDet-tiny with FasterNet-T0
# (its recipe scaled down: mosaic and mixup, then the plain pipeline; EMA)
# trained from scratch on the CPU, tested with bbox AP and drawn.
RTM_DEMO_CONFIG := configs/demo/rtmdet_fasternet_t0_shapes_demo.py
RTM_DEMO_WORK := work_dirs/demo_rtmdet_fasternet_t0

demo-rtmdet: setup
	$(PYTHON) tools/misc/make_demo_data.py coco data/demo_coco
	$(PYTHON) tools/train.py $(RTM_DEMO_CONFIG) --work-dir $(RTM_DEMO_WORK)
	$(PYTHON) tools/test.py $(RTM_DEMO_CONFIG) "$$(cat $(RTM_DEMO_WORK)/last_checkpoint)" \
		--work-dir $(RTM_DEMO_WORK)/test --eval bbox --show-dir vis

demo-backbone: setup
	$(PYTHON) tools/analysis_tools/demo_backbone.py

# Test files are shared out to TEST_WORKERS processes (pytest-xdist), each
# file's tests in one process, so module fixtures are built once.
TEST_WORKERS ?= 2
test: setup
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --dist loadfile tests

# Segmentation demo: synthetic ADE20K-format data, Semantic FPN with
# FasterNet-T0 trained from scratch on the CPU, then tested with mIoU.
SEG_DEMO_CONFIG := configs/demo/fpn_fasternet_t0_shapes_demo.py
SEG_DEMO_WORK := work_dirs/demo_fpn_fasternet_t0

demo-seg: setup
	$(PYTHON) tools/misc/make_demo_data.py ade20k data/demo_ade/ADEChallengeData2016
	$(PYTHON) tools/train.py $(SEG_DEMO_CONFIG) --work-dir $(SEG_DEMO_WORK)
	$(PYTHON) tools/test.py $(SEG_DEMO_CONFIG) "$$(cat $(SEG_DEMO_WORK)/last_checkpoint)" \
		--work-dir $(SEG_DEMO_WORK)/test --eval mIoU

# Classification demo: synthetic ImageNet-format data, FasterNet-T0
# classifier trained from scratch with the T0 ImageNet recipe scaled down,
# then tested with top-1.
CLS_DEMO_CONFIG := configs/demo/fasternet_t0_shapes_demo.py
CLS_DEMO_WORK := work_dirs/demo_fasternet_t0_cls

demo-cls: setup
	$(PYTHON) tools/misc/make_demo_data.py imagenet data/demo_imagenet --train 1200 --val 150 --size 72 72
	$(PYTHON) tools/train.py $(CLS_DEMO_CONFIG) --work-dir $(CLS_DEMO_WORK)
	$(PYTHON) tools/test.py $(CLS_DEMO_CONFIG) "$$(cat $(CLS_DEMO_WORK)/last_checkpoint)" \
		--work-dir $(CLS_DEMO_WORK)/test --eval accuracy
