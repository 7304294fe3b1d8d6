"""HDFS: an Apache Hadoop 3 NameNode and DataNode, jars from Maven Central (hadoop/local/pom.xml).

Configs come from hadoop/local (templates with @@VYGODA_DIR@@), rendered into .vygoda/hadoop-conf.
The NameNode is formatted once; data lives in .vygoda/hdfs and survives `down`/`up`. The web UI
(overview, DataNodes, "Browse the file system") is served on Hadoop 3's usual port, 9870.
"""
import json
import shlex
import urllib.request

from . import paths, procs

RPC = "hdfs://127.0.0.1:9000"
HTTP = "http://127.0.0.1:9870"
DATANODE_HTTP = "http://127.0.0.1:9864"
EXPLORER = f"{HTTP}/explorer.html"
CONF = paths.STATE / "hadoop-conf"
DIRS = ["/lake", "/jobs", "/test", "/spark-events"]

# What Hadoop's own launcher (hadoop-functions.sh) passes on Java 17: the RPC and web layers reach
# into these JDK packages by reflection, and the JDK refuses that unless they are opened.
JAVA17_OPENS = [
    f"--add-opens=java.base/{pkg}=ALL-UNNAMED"
    for pkg in ("java.io", "java.lang", "java.lang.reflect", "java.math", "java.net", "java.nio",
                "java.text", "java.util", "java.util.concurrent", "java.util.zip",
                "sun.security.util", "sun.security.x509")
]


def render_conf() -> None:
    CONF.mkdir(parents=True, exist_ok=True)
    src = paths.REPO / "hadoop" / "local"
    for name in ("core-site.xml", "hdfs-site.xml", "log4j.properties", "hadoop-metrics2.properties"):
        text = (src / name).read_text().replace("@@VYGODA_DIR@@", str(paths.STATE))
        (CONF / name).write_text(text)


def _java(main: str, log: str, *args, logger: str = "INFO,console,RFA") -> list:
    libs = paths.hadoop_libs()
    # The rendered conf first (the first core-site.xml on the classpath wins), then the folder
    # holding webapps/ (the HTTP server looks its pages up on the classpath), then the jars.
    classpath = ":".join([str(CONF), str(libs / "ui"), f"{libs}/*"])
    return ["java", "-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:+IgnoreUnrecognizedVMOptions",
            *JAVA17_OPENS, f"-Dhadoop.log.dir={paths.LOGS}", f"-Dhadoop.log.file={log}",
            f"-Dhadoop.root.logger={logger}", "-cp", classpath, main, *args]


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


def ui_served() -> bool:
    """The file browser page itself, not only the REST endpoints behind it."""
    with urllib.request.urlopen(EXPLORER, timeout=3) as r:
        return r.status == 200 and b"Browse Directory" in r.read()


def _mkdirs() -> None:
    for d in DIRS:
        req = urllib.request.Request(f"{HTTP}/webhdfs/v1{d}?op=MKDIRS&user.name=vygoda", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            if not json.load(r).get("boolean"):
                raise procs.PlatformError(f"HDFS mkdir {d} refused")


NAME_VERSION = paths.STATE / "hdfs" / "name" / "current" / "VERSION"


def _formatted_by_hadoop2() -> bool:
    """A name directory from the Hadoop 2.7 daemons this platform ran before (layout -63; Hadoop 3
    writes -64 and below). Hadoop 3 refuses to start on it without `-upgrade`."""
    for line in NAME_VERSION.read_text().splitlines():
        if line.startswith("layoutVersion="):
            return int(line.split("=", 1)[1]) > -64
    return False


def _upgrade_from_hadoop2() -> None:
    """Keep a developer's lake across the switch to Hadoop 3: start once with `-upgrade`, finalize
    (drops the pre-upgrade copy), then go on as usual."""
    print("[up] HDFS: upgrading the name directory from Hadoop 2 to Hadoop 3 (once)", flush=True)
    procs.start("hdfs-namenode", _java(NAMENODE, "namenode.log", "-upgrade"))
    procs.start("hdfs-datanode", _java(DATANODE, "datanode.log"))
    procs.wait_for("HDFS upgrade to Hadoop 3", healthy, 180, "hdfs-namenode")
    procs.run(_java("org.apache.hadoop.hdfs.tools.DFSAdmin", "dfsadmin.log", "-fs", RPC, "-finalizeUpgrade"))
    procs.stop("hdfs-datanode")
    procs.stop("hdfs-namenode")


SHELL = paths.STATE / "bin" / "hdfs"
TOOLS = {"dfs": "org.apache.hadoop.fs.FsShell", "dfsadmin": "org.apache.hadoop.hdfs.tools.DFSAdmin",
         "fsck": "org.apache.hadoop.hdfs.tools.DFSck"}


def write_shell() -> None:
    """`.vygoda/bin/hdfs dfs|dfsadmin|fsck …`: Hadoop's own command-line tools on the daemons' jars
    and configuration, so `hdfs dfs -ls /lake` works as on any Hadoop host."""
    argv = _java("CLASS", "hdfs-shell.log", logger="WARN,console")
    java = " ".join(shlex.quote(str(a)) for a in argv).replace("CLASS", '"$class"')
    cases = "\n".join(f"  {name}) class={cls} ;;" for name, cls in TOOLS.items())
    SHELL.parent.mkdir(parents=True, exist_ok=True)
    SHELL.write_text(
        "#!/bin/sh\n# Written by `make up`: Hadoop's own tools against the local HDFS.\n"
        f'case "$1" in\n{cases}\n'
        f'  *) echo "usage: hdfs {{{"|".join(TOOLS)}}} ARGS   (e.g. hdfs dfs -ls -R /lake)" >&2; exit 64 ;;\n'
        'esac\nshift\n'
        f'exec {java} "$@"\n'
    )
    SHELL.chmod(0o755)


def start() -> None:
    render_conf()
    write_shell()
    if not NAME_VERSION.exists():
        procs.run(_java(NAMENODE, "namenode-format.log", "-format", "-nonInteractive", "-clusterId", "vygoda-local"))
    elif _formatted_by_hadoop2():
        procs.stop("hdfs-datanode")
        procs.stop("hdfs-namenode")
        _upgrade_from_hadoop2()
    procs.start("hdfs-namenode", _java(NAMENODE, "namenode.log"))
    procs.start("hdfs-datanode", _java(DATANODE, "datanode.log"))
    procs.wait_for("HDFS (NameNode out of safe mode, DataNode live, WebHDFS)", healthy, 90, "hdfs-namenode")
    _mkdirs()


def stop() -> None:
    procs.stop("hdfs-datanode")
    procs.stop("hdfs-namenode")
