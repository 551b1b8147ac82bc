# Demo: UperNet with FasterNet-T0 on the synthetic ADE20K-format shapes set
# (python tools/misc/make_demo_data.py ade20k data/demo_ade/ADEChallengeData2016):
# the Semantic FPN demo's data, pipeline and schedule with UperNet's heads
# (pyramid pooling at 1, 2, 3 and 6 cells, an auxiliary FCN head), their
# widths slimmed for a CPU. The deployment tests export it: its pyramid
# pooling is adaptive average pooling at sizes other than 1x1.
_base_ = './fpn_fasternet_t0_shapes_demo.py'

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    neck=None,
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[40, 80, 160, 320],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=128,
        dropout_ratio=0.1,
        num_classes=4,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=160,
        in_index=2,
        channels=64,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=4,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
