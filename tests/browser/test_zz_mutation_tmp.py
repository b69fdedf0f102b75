from . import test_lab_reconnect as m

BLOCK = "window.addEventListener('online', e => e.stopImmediatePropagation());"


def test_mutant_without_online_handler(lab, page, monkeypatch):
    monkeypatch.setattr(m, "WATCH", m.WATCH + ";" + BLOCK)
    m.test_back_online_the_panel_reconnects_at_once_not_after_its_back_off(lab, page)
