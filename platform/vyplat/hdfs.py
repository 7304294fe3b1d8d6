"""HDFS: a Hadoop 2.7.3 NameNode and DataNode from the server jars of the pyspark 2.4.8 sdist.

Configs come from hadoop/local (templates with @@VYGODA_DIR@@), rendered into .vygoda/hadoop-conf.
The NameNode is formatted once; data lives in .vygoda/hdfs and survives `down`/`up`.
"""
import json
import urllib.request

from . import paths, procs

RPC = "hdfs://127.0.0.1:9000"
HTTP = "http://127.0.0.1:50070"
CONF = paths.STATE / "hadoop-conf"
JERSEY = ["/usr/share/java/jersey1-core.jar", "/usr/share/java/jersey1-server.jar",
          "/usr/share/java/jersey1-servlet.jar", "/usr/share/java/jsr311-api.jar"]
DIRS = ["/lake", "/jobs", "/test"]


def render_conf() -> None:
    CONF.mkdir(parents=True, exist_ok=True)
    src = paths.REPO / "hadoop" / "local"
    for name in ("core-site.xml", "hdfs-site.xml", "log4j.properties"):
        text = (src / name).read_text().replace("@@VYGODA_DIR@@", str(paths.STATE))
        (CONF / name).write_text(text)


def _java(main: str, *args) -> list:
    # hadoop/local holds webapps/ (WEB-INF stubs the 2.7.3 jar lacks; WebHDFS needs them).
    classpath = ":".join([str(CONF), str(paths.REPO / "hadoop" / "local"),
                          f"{paths.HADOOP_JARS}/*", *JERSEY])
    return ["java", "-Xms64m", "-Xmx256m", "-XX:+UseSerialGC",
            f"-Dhadoop.log.dir={paths.LOGS}", "-Dhadoop.root.logger=INFO,console",
            "-cp", classpath, main, *args]


NAMENODE = "org.apache.hadoop.hdfs.server.namenode.NameNode"
DATANODE = "org.apache.hadoop.hdfs.server.datanode.DataNode"


def _jmx(query: str) -> dict:
    with urllib.request.urlopen(f"{HTTP}/jmx?qry={query}", timeout=3) as r:
        beans = json.load(r)["beans"]
    return beans[0] if beans else {}


def healthy() -> bool:
    """NameNode out of safe mode with a live DataNode, and WebHDFS answering."""
    state = _jmx("Hadoop:service=NameNode,name=FSNamesystemState")
    if state.get("NumLiveDataNodes", 0) < 1:
        return False
    info = _jmx("Hadoop:service=NameNode,name=NameNodeInfo")
    if info.get("Safemode"):
        return False
    with urllib.request.urlopen(f"{HTTP}/webhdfs/v1/?op=GETFILESTATUS", timeout=3) as r:
        return r.status == 200


def _mkdirs() -> None:
    for d in DIRS:
        req = urllib.request.Request(f"{HTTP}/webhdfs/v1{d}?op=MKDIRS&user.name=vygoda", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            if not json.load(r).get("boolean"):
                raise procs.PlatformError(f"HDFS mkdir {d} refused")


def start() -> None:
    render_conf()
    if not (paths.STATE / "hdfs" / "name" / "current" / "VERSION").exists():
        procs.run(_java(NAMENODE, "-format", "-nonInteractive", "-clusterId", "vygoda-local"))
    procs.start("hdfs-namenode", _java(NAMENODE))
    procs.start("hdfs-datanode", _java(DATANODE))
    procs.wait_for("HDFS (NameNode out of safe mode, DataNode live, WebHDFS)", healthy, 90, "hdfs-namenode")
    _mkdirs()


def stop() -> None:
    procs.stop("hdfs-datanode")
    procs.stop("hdfs-namenode")
