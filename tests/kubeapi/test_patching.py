"""PATCH bodies (patching.py) and selectors (selectors.py). Pure, no server."""

from __future__ import annotations

import pytest

from tests.kubeapi import errors
from tests.kubeapi.patching import json_patch, merge_patch, strategic_merge_patch
from tests.kubeapi.selectors import labels_match, parse_field_selector, parse_label_selector

POD_SPEC = {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}]},
                           {"name": "b", "image": "y:1"}]}


def test_merge_patch_replaces_lists_and_deletes_nulls():
    out = merge_patch({"spec": POD_SPEC, "keep": 1, "drop": 2}, {"spec": {"containers": [{"name": "c"}]},
                                                                 "drop": None})
    assert out == {"spec": {"containers": [{"name": "c"}]}, "keep": 1}


def test_strategic_merge_patch_merges_keyed_lists():
    out = strategic_merge_patch(POD_SPEC, {
        "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
        "containers": [{"name": "a", "image": "x:2", "env": [{"name": "B", "value": "2"}]},
                       {"name": "b", "$patch": "delete"}]})
    assert out == {"containers": [{"name": "a", "image": "x:2", "env": [{"name": "A", "value": "1"},
                                                                       {"name": "B", "value": "2"}]}]}
    assert strategic_merge_patch({"finalizers": ["a"]}, {"finalizers": ["b"]}) == {"finalizers": ["a", "b"]}
    assert strategic_merge_patch({"args": ["1", "2"]}, {"args": ["3"]}) == {"args": ["3"]}


def test_json_patch_ops_and_failed_test():
    doc = {"a": {"b": [1, 2]}}
    out = json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3}, {"op": "copy", "from": "/a/b", "path": "/c"},
                           {"op": "move", "from": "/a", "path": "/d"}, {"op": "remove", "path": "/c/0"}])
    assert out == {"c": [2, 3], "d": {"b": [1, 2, 3]}} and doc == {"a": {"b": [1, 2]}}
    with pytest.raises(errors.ApiError) as err:
        json_patch(doc, [{"op": "test", "path": "/a/b/0", "value": 9}])
    assert err.value.code == 422


@pytest.mark.parametrize("selector, labels, expected", [
    ("app=x", {"app": "x"}, True), ("app==x", {"app": "y"}, False), ("app!=x", {}, True),
    ("app in (x, y)", {"app": "y"}, True), ("app notin (x)", {}, True), ("app", {}, False),
    ("!app", {}, True), ("app,tier=db", {"app": "", "tier": "db"}, True),
])
def test_label_selectors(selector, labels, expected):
    assert labels_match(parse_label_selector(selector), {"metadata": {"labels": labels}}) is expected


def test_field_selectors_only_for_indexed_fields():
    match = parse_field_selector("metadata.name=a,status.phase!=Failed", ("", "pods"))
    assert match({"metadata": {"name": "a"}, "status": {"phase": "Running"}})
    assert not match({"metadata": {"name": "a"}, "status": {"phase": "Failed"}})
    with pytest.raises(errors.ApiError) as err:
        parse_field_selector("status.phase=Running", ("", "configmaps"))
    assert err.value.code == 400


@pytest.mark.parametrize("selector", ["!app in (x)", "=x", "app x", "app in (x"])
def test_label_selectors_the_real_parser_rejects(selector):
    with pytest.raises(errors.ApiError) as err:
        parse_label_selector(selector)
    assert err.value.code == 400


def test_field_selector_without_an_operator_is_rejected():
    with pytest.raises(errors.ApiError) as err:
        parse_field_selector("metadata.name", ("", "pods"))
    assert "can't understand 'metadata.name'" in err.value.message
