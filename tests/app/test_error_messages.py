"""How failures read in the web app: a refused role, bad input and a storage failure each get their own
line (never `{"error": null}` or a raw traceback); anything else a generic one."""
from __future__ import annotations

import errno

import pytest


@pytest.fixture(scope="module")
def app_module():
    from kb.cli.serve_cmd import load_app_module

    return load_app_module()


def test_each_failure_reads_as_what_it_is(app_module, tmp_path):
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "home")
    said = app_module.friendly_error
    assert said(PermissionError("需要管理员权限"), settings) == "无权执行此操作：需要管理员权限"
    assert said(ValueError("请输入问题"), settings) == "请输入问题"
    full = OSError(errno.ENOSPC, "No space left on device")
    assert said(full, settings).startswith("磁盘已满：")
    down = RuntimeError("Could not connect to a Chroma server. Are you sure it is running?")
    assert said(down, settings).startswith("知识库存储不可用：")
    assert said(RuntimeError("boom"), settings) == "服务内部错误，请稍后重试（详情见服务器日志）"


def test_api_errors_carry_the_message(app_module):
    import gradio as gr

    for exc, expected in [
        (PermissionError("需要管理员权限"), "无权执行此操作"),
        (ValueError("没有文档 x"), "没有文档 x"),
        (RuntimeError("Could not connect to a Chroma server."), "知识库存储不可用"),
        (OSError(errno.ENOSPC, "No space left on device"), "磁盘已满"),
    ]:
        with pytest.raises(gr.Error) as raised:
            with app_module.shown_errors():
                raise exc
        assert expected in raised.value.message
    with pytest.raises(RuntimeError):  # unexpected errors are not dressed up
        with app_module.shown_errors():
            raise RuntimeError("boom")
