import platform, struct, sys
arch = sys.argv[1]
done = []
def have(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False
if have("numpy"):
    import numpy as np
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert float((a @ a.T).sum()) == 1134.0
    assert int(np.linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]])).round()) == 5
    done.append("numpy")
if have("orjson"):
    import orjson
    doc = {"a": [1, 2.5, "x\u00e9"], "b": None}
    raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    assert raw == b'{"a":[1,2.5,"x\xc3\xa9"],"b":null}', raw
    assert orjson.loads(raw) == doc
    done.append("orjson")
if have("lxml"):
    from lxml import etree
    root = etree.fromstring(b"<r><i n='1'/><i n='2'/><j/></r>")
    assert [e.get("n") for e in root.xpath("//i")] == ["1", "2"]
    assert etree.tostring(root.find("j")) == b"<j/>"
    done.append("lxml")
if have("yaml"):
    import yaml
    assert yaml.__with_libyaml__
    text = "a: [1, 2]\nb: {c: d}\n"
    assert yaml.load(text, Loader=yaml.CSafeLoader) == {"a": [1, 2], "b": {"c": "d"}}
    assert yaml.dump({"k": [3]}, Dumper=yaml.CSafeDumper) == "k:\n- 3\n"
    done.append("yaml")
if have("psycopg2"):
    import psycopg2, psycopg2.extensions as ext
    assert psycopg2.__libpq_version__ >= 100000
    assert ext.adapt(42).getquoted() == b"42"
    assert ext.QuotedString("O'Reilly").getquoted() == b"'O''Reilly'"
    done.append("psycopg2")
print("checked", arch, platform.machine(), sys.byteorder, struct.calcsize("P") * 8, ",".join(done))
