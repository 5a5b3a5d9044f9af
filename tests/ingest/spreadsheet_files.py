"""Spreadsheets as inspection groups keep them, written with openpyxl: a 民主测评 workbook (a title row,
a two-level merged header, 15 people, a 合计 row, a note, several sheets) and a 整改台账 CSV in GBK."""
from __future__ import annotations

from pathlib import Path

# 姓名, 职务, 优秀, 称职, 基本称职, 不称职 (40 votes each)
PEOPLE = [
    ("张伟", "局长", 30, 8, 2, 0), ("李娜", "副局长", 25, 12, 3, 0), ("王强", "副局长", 18, 17, 4, 1),
    ("刘洋", "纪检组长", 28, 10, 2, 0), ("陈静", "总工程师", 20, 15, 5, 0), ("杨帆", "办公室主任", 15, 20, 4, 1),
    ("赵磊", "科长", 22, 14, 3, 1), ("黄敏", "科长", 26, 12, 2, 0), ("周杰", "副科长", 12, 22, 5, 1),
    ("吴婷", "科长", 24, 13, 3, 0), ("徐明", "科长", 19, 16, 4, 1), ("孙丽", "副科长", 27, 11, 2, 0),
    ("胡军", "科长", 16, 18, 5, 1), ("朱红", "副科长", 21, 15, 4, 0), ("高峰", "科长", 23, 13, 3, 2),
]
TITLE = "2024年度市直单位领导干部民主测评结果汇总表"


def evaluation_workbook(path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "测评汇总"
    ws.append([TITLE])
    ws.merge_cells("A1:J1")
    ws.append(["序号", "姓名", "职务", "测评票数", None, None, None, "比率", None, "备注"])
    ws.append([None, None, None, "优秀", "称职", "基本称职", "不称职", "优秀率", "称职率", None])
    for rng in ("A2:A3", "B2:B3", "C2:C3", "D2:G2", "H2:I2", "J2:J3"):
        ws.merge_cells(rng)
    for i, (name, post, good, fit, basic, unfit) in enumerate(PEOPLE, 1):
        total = good + fit + basic + unfit
        ws.append([i, name, post, good, fit, basic, unfit, good / total, (good + fit) / total, None])
        for column in (8, 9):
            ws.cell(ws.max_row, column).number_format = "0.0%"
    ws.append(["合计", None, None] + [sum(p[k] for p in PEOPLE) for k in (2, 3, 4, 5)])
    ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=3)
    ws.append(["注：优秀率=优秀票/有效票；称职率=（优秀票+称职票）/有效票。"])
    ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=10)

    team = wb.create_sheet("班子测评")
    team.append(["领导班子总体评价"])
    team.merge_cells("A1:E1")
    team.append(["评价项目", "好", "较好", "一般", "差"])
    for row in (["政治表现", 60, 18, 2, 0], ["团结协作", 52, 22, 5, 1], ["作风建设", 48, 25, 6, 1]):
        team.append(row)

    notes = wb.create_sheet("测评说明")
    notes.append(["本次民主测评于2024年12月10日在市委党校进行。"])
    notes.append(["参加测评人员共40人，收回有效票40张。"])
    wb.create_sheet("空表")
    wb.save(path)
    return path


RECTIFICATION_CSV = (
    "序号,整改单位,问题描述,整改时限,整改进度,完成率\n"
    "1,市交通运输局,项目审批流程不规范,2024-06-30,已完成,100%\n"
    "2,市住房和城乡建设局,工程招投标监管不严,2024-09-30,推进中,60%\n"
    "3,市财政局,专项资金拨付滞后,2024-12-31,已完成,100%\n"
    "4,市自然资源局,土地出让金征收不及时,2025-03-31,推进中,45%\n"
    "5,市农业农村局,惠农补贴发放不到位,2024-11-30,未启动,0%\n"
)


def rectification_csv(path: Path, encoding: str = "gbk") -> Path:
    path.write_bytes(RECTIFICATION_CSV.encode(encoding))
    return path
