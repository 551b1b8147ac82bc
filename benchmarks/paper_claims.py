"""The FasterNet paper's two headline speed claims, measured on this
machine.

The abstract of "Run, Don't Walk: Chasing Higher FLOPS for Faster Neural
Networks" (CVPR 2023, arXiv 2303.03667): FasterNet-T0 is 2.8x (GPU), 3.3x
(CPU) and 2.4x (ARM) faster than MobileViT-XXS, and FasterNet-L has 36%
higher GPU throughput and takes 37% less CPU time than Swin-B. The paper
measured whole ImageNet classifiers in eager PyTorch with BN fused into the
preceding conv: GPU throughput at batch 32 fp32, CPU and ARM latency at
batch 1 on one thread.

Here each pair is built with random weights (speed does not depend on
them): FasterNet as mmfasternet's ImageNet classifier
(:func:`~mmfasternet.deploy.models.build_model`), the baseline from timm
(``pretrained=False``). The models of a pair are timed in one process,
in interleaved rounds
(:func:`~mmfasternet.utils.timing.interleaved_median_seconds`).

Rows are dicts: ``pair``, ``model``, ``form``, ``runtime``, ``device``,
``protocol``, ``batch``, ``dtype``, ``channels_last``, ``image_size``,
``ms_per_batch`` and ``images_per_s``. Comparisons
(:func:`paper_claim_ratios`) put one FasterNet row beside the baseline row
of the same pair, protocol and runtime.
"""
import copy
import platform
import warnings
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn as nn

from benchmarks.inference import DEPLOY, PAPER_PROTOCOL
from benchmarks.timing import prepare_for_timing
from mmfasternet.deploy import switch_to_deploy
from mmfasternet.model_zoo import published_top1
from mmfasternet.utils.timing import interleaved_median_seconds

from .folding import fold_batchnorms

# The baselines' form: eval mode, every BN that follows a conv folded into
# it (the paper's protocol; Swin has no BN, so it is only in eval mode).
BASELINE_FORM = 'eval, BN folded'
EAGER = 'eager'
ONNXRUNTIME = 'onnxruntime'
RUNTIMES = (EAGER, ONNXRUNTIME)

# What a paper figure says, and how a comparison expresses it.
SPEEDUP = 'x faster'  # baseline time / FasterNet time
LESS_TIME = '% less time'  # 100 * (1 - FasterNet time / baseline time)
HIGHER_THROUGHPUT = '% higher throughput'  # 100 * (img/s ratio - 1)


class PaperFigure(NamedTuple):
    """One figure of the paper's abstract: ``value`` in the unit ``kind``
    (:data:`SPEEDUP`, :data:`LESS_TIME` or :data:`HIGHER_THROUGHPUT`)."""
    kind: str
    value: float


class PaperPair(NamedTuple):
    """A FasterNet arch, the timm model the paper compared it with, the
    paper's figures per processor (``'GPU'``, ``'CPU'``, ``'ARM'``) and
    the ImageNet-1k top-1 (%) of both from the published tables."""
    name: str
    arch: str
    fasternet: str
    baseline: str
    timm_model: str
    fixed_size: bool  # the timm model takes its input size at build time
    figures: Dict[str, PaperFigure]
    fasternet_top1: float
    baseline_top1: float
    baseline_timm_weights: str
    baseline_timm_top1: float


# Top-1: FasterNet from the FasterNet paper (its ImageNet-1k table: T0
# 71.9, L 83.5, at 224x224). MobileViT-XXS 69.0
# from the MobileViT paper (Mehta & Rastegari, ICLR 2022; at 256x256
# input) and Swin-B 83.5 from the Swin paper (Liu et al., ICCV 2021,
# ImageNet-1k, 224x224); the FasterNet paper quotes both the same.
# timm's: its ImageNet-1k validation table (results/results-imagenet.csv
# of pytorch-image-models) for the ImageNet-1k-only weights:
# mobilevit_xxs.cvnets_in1k 68.932 (evaluated at 256x256),
# swin_base_patch4_window7_224.ms_in1k 83.606. (timm's default weights
# for that Swin-B name are ms_in22k_ft_in1k, pre-trained on ImageNet-22k:
# 85.272, not comparable with the paper's ImageNet-1k figures.)
_PUBLISHED = published_top1()  # FasterNet's, from the model zoo
PAIRS = {
    't0': PaperPair(
        name='fasternet_t0 vs mobilevit_xxs', arch='t0',
        fasternet='fasternet_t0', baseline='mobilevit_xxs',
        timm_model='mobilevit_xxs', fixed_size=False,
        figures=dict(GPU=PaperFigure(SPEEDUP, 2.8),
                     CPU=PaperFigure(SPEEDUP, 3.3),
                     ARM=PaperFigure(SPEEDUP, 2.4)),
        fasternet_top1=_PUBLISHED['t0'], baseline_top1=69.0,
        baseline_timm_weights='mobilevit_xxs.cvnets_in1k',
        baseline_timm_top1=68.932),
    'l': PaperPair(
        name='fasternet_l vs swin_base', arch='l', fasternet='fasternet_l',
        baseline='swin_base', timm_model='swin_base_patch4_window7_224',
        fixed_size=True,
        figures=dict(GPU=PaperFigure(HIGHER_THROUGHPUT, 36.),
                     CPU=PaperFigure(LESS_TIME, 37.)),
        fasternet_top1=_PUBLISHED['l'], baseline_top1=83.5,
        baseline_timm_weights='swin_base_patch4_window7_224.ms_in1k',
        baseline_timm_top1=83.606),
}


class Protocol(NamedTuple):
    """How one set of rows is timed. ``processor`` names the paper's
    figure it is compared with (``'GPU'``, ``'CPU'``, ``'ARM'``)."""
    name: str
    processor: str
    batch: int
    dtype: str
    channels_last: bool


def paper_protocols(device: str = 'cpu',
                    threads: Optional[int] = None) -> List[Protocol]:
    """The protocols for ``device``: on a CPU, batch 1 fp32 latency with
    ``threads`` threads (default: torch's current number; the paper used
    1), compared with the paper's ARM figure on an ARM machine
    (``platform.machine()`` aarch64/arm64) and its CPU figure elsewhere;
    on CUDA, the paper's batch 32 fp32 throughput and batch 256 bf16
    channels_last (both compared with the paper's GPU figure, which was
    measured at batch 32 fp32 on an RTX 2080Ti). "fp32" is PyTorch's
    default on CUDA: cuDNN may run convolutions in TF32 on GPUs that have
    it, matrix products stay in fp32."""
    if torch.device(device).type == 'cuda':
        return [Protocol('GPU batch 32 fp32', 'GPU', 32, 'fp32', False),
                Protocol('GPU batch 256 bf16 channels_last', 'GPU', 256,
                         'bf16', True)]
    threads = threads or torch.get_num_threads()
    arm = platform.machine().lower() in ('aarch64', 'arm64')
    return [Protocol(f'{"ARM" if arm else "CPU"} batch 1, {threads} '
                     f'thread{"s" if threads > 1 else ""}',
                     'ARM' if arm else 'CPU', 1, 'fp32', False)]


def pair_models(pair: PaperPair, image_size: int = 224
                ) -> Dict[str, nn.Module]:
    """The three models of ``pair`` as whole ImageNet classifiers (1000
    classes) with random weights, taking (N, 3, ``image_size``,
    ``image_size``) float images and giving (N, 1000) logits, in eval
    mode: FasterNet in the paper's protocol (every BN folded by
    :func:`fold_batchnorms`, split_cat PConv) under :data:`PAPER_PROTOCOL`,
    the same weights in mmfasternet's deploy form under :data:`DEPLOY`,
    and the timm baseline with its BNs folded under
    :data:`BASELINE_FORM`.

    Raises:
        RuntimeError, ValueError: from timm when ``image_size`` does not
            fit the baseline (e.g. not a multiple of 32 for Swin-B).
    """
    import timm

    from mmfasternet.deploy.models import build_model
    example = torch.randn(1, 3, image_size, image_size,
                          generator=torch.Generator().manual_seed(0))
    fasternet = build_model(pair.arch, what='classifier', deploy=False)
    size = dict(img_size=image_size) if pair.fixed_size else {}
    torch.manual_seed(0)
    baseline = timm.create_model(pair.timm_model, pretrained=False,
                                 **size).eval()
    return {
        PAPER_PROTOCOL: fold_batchnorms(copy.deepcopy(fasternet), example),
        DEPLOY: switch_to_deploy(copy.deepcopy(fasternet)),
        BASELINE_FORM: fold_batchnorms(baseline, example),
    }


def _onnxruntime_call(model: nn.Module, example: torch.Tensor
                      ) -> Callable[[], object]:
    """One onnxruntime (CPU) run of ``model`` (fp32, on the CPU) exported
    with mmfasternet's exporter, on ``example``, with PyTorch's number of
    intra-op threads. Idle onnxruntime threads do not spin, so that they
    leave the cores to the PyTorch rows timed in between."""
    from mmfasternet.deploy.runtime import OnnxRuntimeModule
    x = example.float().cpu()
    with warnings.catch_warnings():
        # timm models' shape arithmetic: "converting a tensor to a Python
        # ..." notices of the tracer, for values fixed at the traced size
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        session = OnnxRuntimeModule(model, x)
    return lambda: session(x)


def benchmark_paper_claims(arches: Sequence[str] = ('t0', 'l'),
                           device: str = 'cpu',
                           runtimes: Sequence[str] = RUNTIMES,
                           image_size: int = 224, warmup: int = 3,
                           repeats: int = 10,
                           on_row: Optional[Callable[[dict], None]] = None
                           ) -> List[dict]:
    """Time each pair of :data:`PAIRS` named in ``arches`` under every
    protocol of :func:`paper_protocols` for ``device`` and in every
    runtime of ``runtimes``: FasterNet in its paper protocol and deploy
    forms and the baseline (:func:`pair_models`), on a random (batch, 3,
    ``image_size``, ``image_size``) input. All rows of one pair and
    protocol are timed together in interleaved rounds
    (:func:`interleaved_median_seconds`, ``warmup`` and ``repeats`` per
    row); the paper's figures are for ``image_size`` 224.

    Args:
        runtimes: :data:`EAGER` (PyTorch) and/or :data:`ONNXRUNTIME` (the
            model exported to ONNX, run by onnxruntime's CPU execution
            provider in fp32; CPU only).
        on_row: called with each row once its pair and protocol is timed.

    Returns:
        list[dict]: the rows (see the module's docstring), times in ms per
        batch and images per second.

    Raises:
        ValueError: for an unknown arch or runtime, or onnxruntime with a
            CUDA ``device``.
    """
    unknown = [arch for arch in arches if arch not in PAIRS]
    if unknown:
        raise ValueError(f'no paper pair for {unknown}; choose from '
                         f'{sorted(PAIRS)}.')
    unknown = [runtime for runtime in runtimes if runtime not in RUNTIMES]
    if unknown:
        raise ValueError(f'unknown runtimes {unknown}; choose from '
                         f'{list(RUNTIMES)}.')
    if ONNXRUNTIME in runtimes and torch.device(device).type != 'cpu':
        raise ValueError('onnxruntime rows are timed on the CPU only; run '
                         'them with device="cpu".')
    rows = []
    for arch in arches:
        pair = PAIRS[arch]
        models = pair_models(pair, image_size)
        for protocol in paper_protocols(device):
            example = torch.randn(
                protocol.batch, 3, image_size, image_size,
                generator=torch.Generator().manual_seed(1))
            pending, calls = [], []
            for runtime in runtimes:
                for form, model in models.items():
                    if runtime == EAGER:
                        if (torch.device(device).type != 'cpu'
                                or protocol.dtype != 'fp32'
                                or protocol.channels_last):
                            # keep the fp32 CPU original for what follows
                            model = copy.deepcopy(model)
                        model, x = prepare_for_timing(
                            model, example, device, protocol.dtype,
                            protocol.channels_last)
                        calls.append(lambda model=model, x=x: model(x))
                    else:
                        calls.append(_onnxruntime_call(model, example))
                    pending.append(dict(
                        pair=pair.name,
                        model=(pair.baseline if form == BASELINE_FORM else
                               pair.fasternet),
                        form=form, runtime=runtime, device=device,
                        protocol=protocol.name,
                        processor=protocol.processor, batch=protocol.batch,
                        dtype=(protocol.dtype if runtime == EAGER else
                               'fp32'),
                        channels_last=protocol.channels_last,
                        image_size=image_size))
            seconds = interleaved_median_seconds(calls, warmup, repeats,
                                                 device)
            del calls
            for row, elapsed in zip(pending, seconds):
                row.update(ms_per_batch=elapsed * 1e3,
                           images_per_s=row['batch'] / elapsed)
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    return rows


def paper_claim_ratios(rows: Sequence[dict]) -> List[dict]:
    """Each FasterNet row of ``rows`` (:func:`benchmark_paper_claims`)
    beside the baseline row of the same pair, protocol and runtime.

    Returns:
        list[dict]: in the order of the FasterNet rows: ``pair``,
        ``protocol``, ``processor``, ``runtime``, ``form`` (FasterNet's),
        ``fasternet_ms`` and ``baseline_ms`` (per batch), ``speedup``
        (baseline time / FasterNet time), ``less_time_pct`` (100 * (1 -
        FasterNet time / baseline time)), ``higher_throughput_pct`` (100 *
        (FasterNet img/s / baseline img/s - 1)), ``paper`` (the paper's
        :class:`PaperFigure` for the protocol's processor as
        ``{'kind', 'value'}``, or None where the paper gives none),
        ``fasternet_top1`` and ``baseline_top1`` (ImageNet-1k top-1 %,
        published by the models' papers) and ``baseline_timm_top1``
        (timm's figure for its ImageNet-1k weights).

    Raises:
        ValueError: when a FasterNet row has no baseline row to compare
            with.
    """
    by_name = {pair.name: pair for pair in PAIRS.values()}
    baselines = {(row['pair'], row['protocol'], row['runtime']): row
                 for row in rows if row['form'] == BASELINE_FORM}
    comparisons = []
    for row in rows:
        if row['form'] == BASELINE_FORM:
            continue
        key = (row['pair'], row['protocol'], row['runtime'])
        baseline = baselines.get(key)
        if baseline is None:
            raise ValueError(f'{row["pair"]}, {row["protocol"]}, '
                             f'{row["runtime"]}: no baseline row.')
        pair = by_name[row['pair']]
        figure = pair.figures.get(row['processor'])
        comparisons.append(dict(
            pair=row['pair'], protocol=row['protocol'],
            processor=row['processor'], runtime=row['runtime'],
            form=row['form'], fasternet_ms=row['ms_per_batch'],
            baseline_ms=baseline['ms_per_batch'],
            speedup=baseline['ms_per_batch'] / row['ms_per_batch'],
            less_time_pct=100 * (1 - row['ms_per_batch'] /
                                 baseline['ms_per_batch']),
            higher_throughput_pct=100 * (row['images_per_s'] /
                                         baseline['images_per_s'] - 1),
            paper=figure._asdict() if figure is not None else None,
            fasternet_top1=pair.fasternet_top1,
            baseline_top1=pair.baseline_top1,
            baseline_timm_top1=pair.baseline_timm_top1))
    return comparisons


def describe_comparison(comparison: dict) -> str:
    """One line for a comparison of :func:`paper_claim_ratios`, e.g.
    ``fasternet_t0 vs mobilevit_xxs, CPU batch 1, 1 thread, eager, deploy
    form: 1.22x faster (paper CPU 3.3x)`` (``0.80x as fast (slower)``
    below 1); for a pair whose paper figure is
    in % (FasterNet-L), the ratio, % less time and % higher throughput,
    and the paper's figure in its own unit."""
    c = comparison
    head = (f'{c["pair"]}, {c["protocol"]}, {c["runtime"]}, {c["form"]} '
            f'form: ')
    paper = c['paper']
    kinds = {figure.kind for pair in PAIRS.values() if pair.name == c['pair']
             for figure in pair.figures.values()}
    if SPEEDUP in kinds:
        line = (f'{c["speedup"]:.2f}x faster' if c['speedup'] >= 1 else
                f'{c["speedup"]:.2f}x as fast (slower)')
        if paper is not None:
            return head + (f'{line} (paper {c["processor"]} '
                           f'{paper["value"]:g}x)')
    else:
        line = (f'{c["speedup"]:.2f}x, {c["less_time_pct"]:.0f}% less time, '
                f'{c["higher_throughput_pct"]:.0f}% higher throughput')
        if paper is not None:
            return head + (f'{line} (paper {c["processor"]}: '
                           f'{paper["value"]:g}{paper["kind"]})')
    return head + f'{line} (the paper gives no {c["processor"]} figure)'
