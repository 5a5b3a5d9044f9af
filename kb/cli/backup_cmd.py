"""`kb backup DEST [--wait S] [--json]` and `kb restore SRC [--force] [--json]` (kb/storage/backup.py).

Exit codes: 0 done (restore: and `kb doctor` finds the restored knowledge base consistent); 1 restored,
but the check finds problems (run `kb doctor --repair`); 2 refused (DEST not empty, KB_HOME not
empty without --force, a backup that is incomplete or does not match its manifest); 3 an ingest
holds the lock.
"""
from __future__ import annotations

from kb.cli.common import log, print_json, settings_from_args

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_REFUSED = 2
EXIT_LOCKED = 3


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "backup", help="copy everything under KB_HOME (store, users, grants, conversations, audit) to DEST; safe while serving"
    )
    p.add_argument("dest", metavar="DEST", help="a new or empty folder")
    p.add_argument("--wait", type=float, default=0.0, metavar="S", help="wait up to S seconds for a running ingest")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run_backup)
    r = subparsers.add_parser("restore", help="put a backup made by `kb backup` into KB_HOME, then check it")
    r.add_argument("src", metavar="SRC", help="the backup folder (with its manifest.json)")
    r.add_argument("--force", action="store_true", help="restore into a non-empty KB_HOME, moving what is there aside")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.set_defaults(func=run_restore)


def run_backup(args) -> int:
    from kb.storage.backup import BackupError, backup
    from kb.storage.locking import LockHeld

    settings = settings_from_args(args)
    try:
        manifest = backup(settings, args.dest, wait_s=args.wait)
    except LockHeld as exc:
        log(f"error: {exc}")
        return EXIT_LOCKED
    except BackupError as exc:
        log(f"error: 备份失败 (backup refused): {exc}")
        return EXIT_REFUSED
    if settings.chroma.url:
        log(f"note: the store is on the Chroma server {settings.chroma.url} and is not in this backup; "
            f"back up the server's --path on its host while no ingest runs")
    if args.json:
        print_json(manifest)
    else:
        size = sum(f["size"] for f in manifest["files"])
        print(f"已备份 {len(manifest['files'])} 个文件，{size / 1e6:.1f} MB → {args.dest} (backup written)")
    return EXIT_OK


def run_restore(args) -> int:
    from kb.storage.backup import BackupError, restore
    from kb.cli.doctor_cmd import diagnose
    from kb.container import build_services
    from kb.storage.locking import LockHeld

    settings = settings_from_args(args)
    try:
        result = restore(settings, args.src, force=args.force)
    except LockHeld as exc:
        log(f"error: {exc}")
        return EXIT_LOCKED
    except BackupError as exc:
        log(f"error: 恢复被拒绝 (restore refused): {exc}")
        return EXIT_REFUSED
    # the same check as `kb doctor`, so a restore that "worked" but left a broken store says so
    services = build_services(settings)
    try:
        check = diagnose(services, repair=False)
    finally:
        services.close()
    result.update(ok=check["ok"], problems=check["problems"], documents=check["check"]["documents"])
    if args.json:
        print_json(result)
    else:
        print(f"已恢复 {result['restored']} 个文件（备份于 {result['created_at']}）→ {settings.home} (restored)")
        if result["moved_aside"]:
            print(f"原有内容已移到 {result['moved_aside']} (previous contents moved aside)")
        if check["ok"]:
            print(f"一致：文档 {result['documents']} 篇 (kb doctor: no problems found)")
        else:
            print("发现问题 (problems found), run `kb doctor --repair`:")
            for problem in check["problems"]:
                print(f"  - {problem}")
    return EXIT_OK if check["ok"] else EXIT_PROBLEMS
