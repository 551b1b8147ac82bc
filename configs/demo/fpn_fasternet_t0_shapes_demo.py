# Demo: Semantic FPN with FasterNet-T0 trained FROM SCRATCH on the synthetic
# ADE20K-format shapes set (python tools/misc/make_demo_data.py ade20k
# data/demo_ade/ADEChallengeData2016), sized for a CPU: 128x128 crops, plain
# BN (one process), a short schedule. Label 0 (the shapes' outlines) is
# ignored through reduce_zero_label, as in ADE20K.
_base_ = '../fpn_fasternet_t0_ade20k.py'

data_root = 'data/demo_ade/ADEChallengeData2016'
metainfo = dict(
    classes=('background', 'circle', 'square', 'triangle'),
    palette=[(120, 120, 120), (220, 20, 60), (0, 128, 255), (255, 200, 0)])
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None, norm_cfg=norm_cfg),
    decode_head=dict(num_classes=4, norm_cfg=norm_cfg))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(256, 128), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
# ADE20KDataset only accepts subsets of ADE20K's 150 classes: the generic
# dataset reads the same folder layout with our own classes.
ade20k_layout = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True)
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(**ade20k_layout, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=2,
    dataset=dict(**ade20k_layout, pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 600
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=0.001, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=50, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
# Seeded, so that a run repeats the figures the README gives (data order,
# augmentation and initialisation; see the README for the spread measured).
randomness = dict(seed=0)
