"""Weights named by URL, served from 127.0.0.1: downloaded once into torch's
hub cache, a copy under ``checkpoints/`` used instead, the variant check run
on the downloaded file, and, offline, one error naming the URL and both
places the file may be put, raised by tools/train.py before data is read."""
import functools
import os.path as osp
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from mmfasternet import FasterNet
from mmfasternet.engine.tasks import fetch_pretrained_weights, load_config
from mmfasternet.models.utils import (
    CheckpointMismatchError,
    WeightsNotAvailableError,
)
from tests.helpers import REPO_ROOT, load_tool, trained_backbone

NAME = 'fasternet_t0-epoch.281-val_acc1.71.9180.pth'
CLS_DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                    'fasternet_t0_shapes_demo.py')


class Server:
    """A folder served over HTTP on 127.0.0.1, counting the requests."""

    def __init__(self, root):
        self.requests = []
        server = self

        class Handler(SimpleHTTPRequestHandler):

            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(
            ('127.0.0.1', 0), functools.partial(Handler, directory=root))
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, name):
        return f'http://127.0.0.1:{self.httpd.server_port}/v1.0/{name}'

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def unreachable_url(name=NAME):
    """A URL on a 127.0.0.1 port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    return f'http://127.0.0.1:{port}/v1.0/{name}'


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty torch hub cache and an empty working directory."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    monkeypatch.chdir(run_dir)
    return tmp_path


@pytest.fixture
def server(home):
    (home / 'served' / 'v1.0').mkdir(parents=True)
    served = Server(str(home / 'served'))
    yield served
    served.close()


def publish(server, home, model, name=NAME):
    torch.save(model.state_dict(), home / 'served' / 'v1.0' / name)
    return server.url(name)


def pretrained(url, arch='t0'):
    model = FasterNet(arch=arch,
                      init_cfg=dict(type='Pretrained', checkpoint=url))
    model.init_weights()
    return model


def assert_same_weights(model, reference):
    expected = reference.state_dict()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)


def test_url_weights_are_downloaded_once_and_cached(server, home):
    reference = trained_backbone('t0')
    url = publish(server, home, reference)

    assert_same_weights(pretrained(url), reference)
    cached = home / 'torch' / 'hub' / 'checkpoints' / NAME
    assert cached.is_file()
    assert server.requests == [f'/v1.0/{NAME}']

    assert_same_weights(pretrained(url), reference)
    assert len(server.requests) == 1
    assert [p.name for p in cached.parent.iterdir()] == [NAME]


def test_the_variant_check_runs_on_downloaded_weights(server, home):
    url = publish(server, home, trained_backbone('t1'))
    with pytest.raises(CheckpointMismatchError, match='T1') as error:
        pretrained(url)
    assert NAME in str(error.value)


def test_a_copy_under_checkpoints_is_used_without_a_download(home):
    reference = trained_backbone('t0')
    (home / 'run' / 'checkpoints').mkdir()
    torch.save(reference.state_dict(), home / 'run' / 'checkpoints' / NAME)
    assert_same_weights(pretrained(unreachable_url()), reference)
    assert not (home / 'torch').exists()


def test_offline_names_the_url_and_where_to_put_the_file(home):
    url = unreachable_url()
    with pytest.raises(WeightsNotAvailableError) as error:
        pretrained(url)
    message = str(error.value)
    cache = home / 'torch' / 'hub' / 'checkpoints'
    assert url in message
    assert str(cache / NAME) in message
    assert str(home / 'run' / 'checkpoints' / NAME) in message
    assert list(cache.iterdir()) == []  # no partial file left


def test_train_fetches_the_weights_before_it_reads_data(server, home):
    """tools/train.py downloads what init_cfg names from the config alone;
    offline it stops with the download error, before the missing data
    folder (the demo's data_root under the empty working directory) is
    noticed or the work dir created."""
    url = publish(server, home, trained_backbone('t0'))
    cfg, _ = load_config(CLS_DEMO, cfg_options={
        'model.backbone.init_cfg': dict(type='Pretrained', checkpoint=url)})
    fetch_pretrained_weights(cfg)
    assert (home / 'torch' / 'hub' / 'checkpoints' / NAME).is_file()
    assert len(server.requests) == 1

    missing = unreachable_url('fasternet_t0-other.pth')
    config = home / 'run' / 'offline.py'
    config.write_text(
        f'_base_ = [{CLS_DEMO!r}]\n'
        f"model = dict(backbone=dict(init_cfg=dict(type='Pretrained', "
        f'checkpoint={missing!r})))\n')
    work_dir = home / 'run' / 'work'
    with pytest.raises(SystemExit) as stop:
        load_tool('train').main([str(config), '--work-dir', str(work_dir)])
    assert f'Could not download {missing}' in str(stop.value)
    assert not work_dir.exists()


def test_test_tool_stops_on_a_checkpoint_url_it_cannot_download(
        home, capsys):
    url = unreachable_url('fasternet_t0_demo.pth')
    with pytest.raises(SystemExit):
        load_tool('test').main([CLS_DEMO, url, '--work-dir',
                                str(home / 'run' / 'work')])
    assert f'Could not download {url}' in capsys.readouterr().err
    assert not (home / 'run' / 'work').exists()
