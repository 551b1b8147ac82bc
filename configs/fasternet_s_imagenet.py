# FasterNet-S on ImageNet-1k with the original recipe (cfg/fasternet_s.yaml
# of the original repo, trained with timm's components under Lightning):
# 300 epochs, AdamW lr 0.001 x batch / 1024 (batch 4096: lr 0.004), weight
# decay 0.03 on every tensor, 20 warm-up epochs from lr 1e-6 then cosine to
# 1e-5, RandAugment m7 (mstd 0.5, increasing), mixup 0.3 / cutmix 1.0 (one of
# the two per batch), label smoothing 0.1, fp16 AMP, bicubic, 192x192 crops
# for epochs 1-280 then 224x224, evaluation at resize 248 + centre crop 224.
# Top-1 of the released weights: 81.3 (see the README for the test command).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
# mmfasternet registers the backbone; the head, which subclasses mmpretrain's
# ClsHead, is registered by its own module.
custom_imports = dict(
    imports=['mmfasternet', 'mmfasternet.models.heads.fasternet_head'],
    allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='FasterNet',
        arch='s',
        out_indices=(3, ),
        out_norm=False,
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='FasterNetClsHead',
        num_classes=1000,
        in_channels=1024,
        feature_dim=1280,
        act_cfg=dict(type='ReLU', inplace=True),
        # timm's Mixup smooths the one-hot targets before mixing them and
        # trains with SoftTargetCrossEntropy; smoothing the mixed target with
        # mode='original' gives the same soft targets (the map is linear).
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    # timm's Mixup(prob=1.0, switch_prob=0.5, mode='batch'): every batch gets
    # mixup or cutmix, each half of the time, as RandomBatchAugment does.
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.3),
        dict(type='CutMix', alpha=1.0),
    ]))

# timm's RandAugment 'rand-m7-mstd0.5-inc1' is mmpretrain's 'timm_increasing'
# policy set; mmpretrain re-implements the operations, so pixel results and
# random streams are not bit-identical to timm's. RandomResizedCrop: scale
# (0.08, 1), ratio (3/4, 4/3) in both. No random erasing (reprob 0).
rand_augment = dict(
    type='RandAugment',
    policies='timm_increasing',
    num_policies=2,
    total_level=10,
    magnitude_level=7,
    magnitude_std=0.5,
    hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    rand_augment,
    dict(type='PackInputs'),
]
# The last 20 epochs train at 224 (the original switched its dataloader at
# 0-based epoch 280; SwitchRecipeHook counts epochs from 1).
train_pipeline_224 = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    rand_augment,
    dict(type='PackInputs'),
]
custom_hooks = [
    dict(type='SwitchRecipeHook',
         schedule=[dict(action_epoch=281, train_pipeline=train_pipeline_224)])
]
# Evaluation: resize the short side to int(224 / 0.9) = 248, centre crop 224.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=248, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

# Batch 4096 = 32 GPUs x 128.
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=128, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# The original gave timm's create_optimizer model.parameters(), not the
# model, so weight decay applied to every tensor (BN and biases included):
# mmpretrain's norm/bias/flat exemptions are dropped. fp16 AMP as the
# original's precision=16, no gradient clipping for S.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=0.004, weight_decay=0.03, eps=1e-8,
                   betas=(0.9, 0.999)),
    paramwise_cfg=dict(_delete_=True))

# pl_bolts' LinearWarmupCosineAnnealingLR, stepped once per epoch as the
# original did: linear from 1e-6 (start_factor = 1e-6 / lr) over 20 epochs,
# then cosine to 1e-5 at epoch 300.
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 0.004, by_epoch=True, begin=0,
         end=20),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20,
         end=300),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='auto'))

# lr = 0.001 x batch / 1024; --auto-scale-lr scales it to the actual batch.
auto_scale_lr = dict(base_batch_size=4096)
