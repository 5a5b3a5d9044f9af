"""A held-out set of real documents, of the kinds in ../shared/corpus/realdocs_dev, with invented content.

    python -m bench.make_realdocs --out DIR [--variant a|b|c]

Writes into DIR: notice.docx and notice.doc (a 公文 in GB/T 9704 layout: 份号, 密级, 紧急程度, red 发文机关标志,
发文字号, two-line title, 主送机关, 一、（一）1.（1） body, a captioned table, 附件说明, 署名, 成文日期,
附注, 版记; running header and "— N —" / "第N页 共M页" page-number fields; variant c: a 实施意见 without
份号/密级/running header, 发文字号 with （）, ①② items, "-N-", a five-column table with wrapped cells whose
rows may split, across a page break), notice.pdf (LibreOffice), notice.ofd (GB/T 33190, written from the
PDF's text boxes in one of two converter styles, see write_ofd), notice_scan.pdf (image only, no text
layer), law.pdf (a 30-60 page law from ../shared/corpus/laws with its
title as running header), report.docx (an inspection report naming invented people, with a 民主测评 table),
questions.jsonl and expected.json.

The page_break questions are checked against the produced PDFs: the key point's sentence (a law
article for law.pdf) must start on one page and end on the next; a verification table is printed.
The notice is laid out with 0..7 extra blank lines before the title (and 0..3 lines of space before
its table) and the first layout where at least two candidate sentences cross a page boundary is kept. Deterministic: no randomness but a
seeded generator for the scan noise. Needs python-docx, lxml, Pillow, numpy, soffice and poppler-utils.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

REPO = Path(__file__).resolve().parent.parent
LAWS = REPO.parent / "shared" / "corpus" / "laws"
SERIF = "Noto Serif CJK SC"
SANS = "Noto Sans CJK SC"
BODY_PT = 16
LINE_PT = 28.9


def norm(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


# ----------------------------------------------------------------------------------------------------
# content
# ----------------------------------------------------------------------------------------------------

NOTICE_A = {
    "copy_no": "000037",
    "secret": "机密★1年",
    "urgency": "特急",
    "masthead": "中共某某市委组织部文件",
    "doc_number": "某组通〔2025〕7号",
    "doc_number_norm": "某组通〔2025〕7号",
    "title_lines": ["关于开展2025年度市管领导干部", "近距离考察和专项检查工作的通知"],
    "addressee": "各县（市、区）委组织部，市直各单位党组（党委），各市属国有企业党委：",
    "issuer": "中共某某市委组织部",
    "date": "2025年6月20日",
    "issued_on": "2025-06-20",
    "note": "（此件发至县级）",
    "cc": "抄送：市纪委监委，市委巡察办，市人力资源和社会保障局。",
    "printer": "中共某某市委组织部办公室",
    "print_date": "2025年6月23日印发",
    "header": "内部文件\u3000严禁外传",
    "footer": "dash",
    "body": [
        ("p", "为深入贯彻《党政领导干部选拔任用工作条例》和《推进领导干部能上能下规定》，进一步做深做实干部日常考察，准确识别干部的政治素质、履职能力和作风表现，经市委同意，决定于2025年下半年在全市开展市管领导干部近距离考察和专项检查工作。现将有关事项通知如下。"),
        ("h1", "一、目标任务"),
        ("h2", "（一）总体目标。"),
        ("p", "通过近距离考察和专项检查，全面掌握市管领导班子运行状况和市管领导干部思想工作作风情况，推动形成能者上、优者奖、庸者下、劣者汰的良好局面，为市委选贤任能、优化班子结构、加强干部队伍建设提供可靠依据，力争用一年左右时间建立起覆盖全市各层级、动态更新的市管干部实绩档案和政治素质档案。"),
        ("h2", "（二）考察范围。"),
        ("p", "本次考察对象为市管领导班子和市管领导干部，重点是任职满两年以上的县（市、区）党政正职、市直单位主要负责人以及近三年新提拔的市管干部。对在同一单位同一岗位任职满6年的领导干部，应当纳入重点了解范围，并由考察组一并提出交流轮岗的意见建议。"),
        ("h1", "二、主要内容"),
        ("h2", "（一）考察内容。"),
        ("p", "1.政治表现。重点了解领导干部学习贯彻习近平新时代中国特色社会主义思想的情况，执行党的路线方针政策和市委决策部署是否坚决有力，在重大斗争和急难险重任务中是否冲得上、顶得住，是否存在搞变通、打折扣、做选择等问题。"),
        ("p", "2.履职实绩。重点了解领导干部围绕中心工作谋划推动发展的思路举措和工作成效，既看经济指标完成情况，也看生态环保、安全生产、民生改善和基层治理等方面的实绩，防止简单以地区生产总值增速论英雄。"),
        ("p", "3.作风纪律。重点了解领导干部落实全面从严治党主体责任和遵守纪律规矩的情况，具体包括："),
        ("p", "（1）是否严格执行中央八项规定及其实施细则精神，是否存在违规收送礼品礼金、违规吃喝、违规发放津贴补贴等问题；"),
        ("p", "（2）是否存在违规干预插手工程建设、土地出让、矿产开发等市场经济活动的问题，对本人配偶、子女及其配偶经商办企业情况是否如实报告；"),
        ("p", "（3）是否存在形式主义、官僚主义问题，调查研究是否深入基层，是否存在文山会海反弹、督查检查考核过多过频等加重基层负担的问题。"),
        ("p", "4.廉洁自律。重点了解领导干部本人及亲属遵守廉洁从政规定的情况，对信访举报反映的问题线索要逐件核实，核查结论应当写入考察材料。"),
        ("h2", "（二）检查方法。"),
        ("p", "考察组采取个别谈话、民主测评、实地走访、查阅资料、延伸了解等方式开展工作。个别谈话人数一般不少于25人，应当覆盖领导班子成员、内设机构负责人、下属单位主要负责人和部分普通干部；实地走访时，每个单位至少选取2个基层站所或者项目现场，了解干部群众对领导班子和领导干部的真实评价，对反映集中的问题应当进行延伸核实，并在考察材料中写明核实的过程和结果。"),
        ("h1", "三、方法步骤"),
        ("h2", "（一）动员部署。"),
        ("p", "各单位应当在收到通知后5个工作日内报送考察对象名单、单位领导班子分工和联系人信息，并按照考察组要求准备近三年的工作总结、年度考核结果、巡视巡察反馈意见及整改情况等材料。"),
        ("h2", "（二）集中考察。"),
        ("p", "集中考察由市委组织部统一组建考察组分批次开展，每个考察组由1名部务会成员带队，原则上在每个单位的工作时间不少于7天。各单位考察时间和联系人安排如下："),
        ("table", "各单位考察时间安排表", ["单位", "考察时间", "联系人"], [
            ["县（市、区）党委和政府", "2025年7月7日至7月25日", "赵立军"],
            ["市直党政机关", "2025年8月4日至8月22日", "孙丽华"],
            ["市属国有企业", "2025年9月1日至9月19日", "钱学文"],
            ["市属高校和公立医院", "2025年9月22日至10月17日", "吴敏"],
            ["开发区和工业园区", "2025年10月20日至11月7日", "郑浩然"],
        ]),
        ("p", "考察时间确需调整的，由被考察单位提前书面报告市委组织部干部一科，经同意后方可调整。"),
        ("h2", "（三）反馈整改。"),
        ("p", "对考察中发现的问题，考察组应当在考察结束后10个工作日内向被考察单位党组织书面反馈。被考察单位应当逐项制定整改方案，明确责任领导、责任部门和完成时限，整改期限一般为3个月，整改完成后将整改情况报告连同佐证材料一并报送市委组织部干部监督科。"),
        ("h2", "（四）总结运用。"),
        ("p", "考察组应当在每批次考察结束后形成综合分析报告，对领导班子运行状况作出“好”“较好”“一般”“差”的评价，对领导干部提出使用、培养、调整的意见建议，评价结果作为领导班子调整配备和领导干部选拔任用、评先评优、问责追责的重要依据。"),
        ("h1", "四、工作要求"),
        ("h2", "（一）压实工作责任。"),
        ("p", "各级党组织要把近距离考察和专项检查作为加强领导班子建设的重要抓手，党组织主要负责同志要切实履行第一责任人职责，每年不少于2次专题听取本单位干部队伍建设情况汇报，研究解决干部队伍建设中的突出问题，确保各项工作任务落到实处。"),
        ("h2", "（二）严明工作纪律。"),
        ("p", "考察组成员要严格遵守组织人事工作纪律，严格执行回避制度，不得泄露谈话内容和考察情况，不得参加被考察单位安排的宴请和娱乐活动。对考察中发现的选人用人问题线索和违纪违法问题线索，应当按照干部管理权限及时移交市纪委监委第三监督检查室处理，不得瞒报、漏报。"),
        ("h2", "（三）注重结果运用。"),
        ("p", "对考察评价为“差”的领导班子，市委将进行组织调整；对考察中发现的优秀年轻干部，及时纳入市管干部储备人选名单，跟踪培养使用；对考察中发现不适宜担任现职的领导干部，按照有关规定进行调整，切实做到能上能下。"),
        ("p", "请各单位于2025年11月30日前将工作总结报市委组织部干部一科。联系人：林晓，联系电话：0000-1234567。"),
    ],
    "attachments": ["市管领导干部近距离考察谈话提纲", "专项检查问题清单（样表）"],
    # page_break candidates: (question, key_points); the sentence is the one holding the first key point
    "break_candidates": [
        ("开展近距离考察和专项检查依据的是哪些党内法规？", ["《推进领导干部能上能下规定》"]),
        ("近距离考察和专项检查力争用多长时间建立起干部实绩档案和政治素质档案？", ["一年左右时间"]),
        ("对同一岗位任职满6年的领导干部，考察组要提出什么意见建议？", ["交流轮岗的意见建议"]),
        ("考察领导干部政治表现时，重点看哪些方面的问题？", ["搞变通、打折扣、做选择"]),
        ("考察履职实绩时，除经济指标外还要看哪些方面？", ["生态环保、安全生产、民生改善和基层治理"]),
        ("实地走访中发现反映集中的问题，考察组应当怎么做？", ["延伸核实"]),
        ("各单位报送考察对象名单时还需要准备哪些材料？", ["巡视巡察反馈意见及整改情况"]),
        ("被考察单位整改完成后，整改情况报告报送到哪个科室？", ["干部监督科"]),
        ("领导班子运行状况的评价结果作为哪些工作的依据？", ["评先评优、问责追责"]),
        ("考察中发现的违纪违法问题线索应当移交哪个部门处理？", ["第三监督检查室"]),
        ("党组织主要负责同志在干部队伍建设方面要履行什么职责？", ["第一责任人职责"]),
        ("对考察中发现的优秀年轻干部应当怎么处理？", ["市管干部储备人选名单"]),
    ],
    "questions": [
        ("table_cell", "市属国有企业的考察时间是什么时候？", ["2025年9月1日至9月19日"]),
        ("table_cell", "开发区和工业园区考察的联系人是谁？", ["郑浩然"]),
        ("table_cell", "市属高校和公立医院安排在什么时间考察？", ["2025年9月22日至10月17日"]),
        ("quantity", "各单位收到通知后几日内要报送考察对象名单？", ["5个工作日内"]),
        ("quantity", "被考察单位对反馈问题的整改期限一般为多长时间？", ["3个月"]),
        ("quantity", "党组织主要负责同志每年听取干部队伍建设情况汇报几次？", ["不少于2次"]),
        ("quantity", "考察组应当在考察结束后几日内向被考察单位书面反馈问题？", ["10个工作日内"]),
        ("metadata", "关于开展2025年度市管领导干部近距离考察和专项检查工作的通知的发文字号是什么？", ["某组通〔2025〕7号"]),
        ("metadata", "关于开展2025年度市管领导干部近距离考察和专项检查工作的通知是哪个机关印发的？成文日期是什么？", ["中共某某市委组织部", "2025年6月20日"]),
        ("sub_item", "作风纪律考察中，关于干预插手市场经济活动的具体内容是什么？", ["工程建设、土地出让、矿产开发"]),
        ("plain", "个别谈话人数一般不少于多少人？", ["25人"]),
    ],
}

NOTICE_B = {
    "copy_no": "000105",
    "secret": "秘密",
    "urgency": "加急",
    "masthead": "某某县人民政府办公室文件",
    "doc_number": "某政办发[2023]45号",
    "doc_number_norm": "某政办发〔2023〕45号",
    "title_lines": ["关于开展全县安全生产和消防安全", "隐患排查整治专项督查的通知"],
    "addressee": "各乡镇人民政府，县政府各部门，各直属机构：",
    "issuer": "某某县人民政府办公室",
    "date": "二〇二三年十一月八日",
    "issued_on": "2023-11-08",
    "note": "（此件发至乡镇）",
    "cc": "抄送：县委办公室，县人大常委会办公室，县政协办公室，县纪委监委。",
    "printer": "某某县人民政府办公室",
    "print_date": "2023年11月9日印发",
    "header": "内部文件\u3000注意保密",
    "footer": "of",
    "body": [
        ("p", "为认真贯彻落实上级关于安全生产工作的决策部署，深刻汲取近期省内外发生的生产安全事故教训，全面排查整治各类安全隐患，坚决防范和遏制重特大事故发生，经县人民政府同意，决定自2023年11月中旬起在全县范围内开展安全生产和消防安全隐患排查整治专项督查。现将有关事项通知如下。"),
        ("h1", "一、督查范围和重点"),
        ("h2", "（一）督查范围。"),
        ("p", "本次专项督查覆盖全县各乡镇人民政府、县政府各部门和各直属机构，重点督查矿山、危险化学品、建筑施工、道路交通、燃气、消防和特种设备等行业领域，以及人员密集场所、“九小场所”和老旧小区等消防安全重点部位，做到行业领域全覆盖、监管对象全覆盖、隐患问题全覆盖。"),
        ("h2", "（二）督查重点。"),
        ("p", "1.责任落实情况。重点督查各乡镇、各部门落实“党政同责、一岗双责、齐抓共管、失职追责”要求的情况，主要负责同志是否亲自研究部署隐患排查整治工作，是否建立了领导干部包保责任制。"),
        ("p", "2.隐患排查情况。重点督查企业是否建立隐患自查自改自报制度，是否按照要求开展全员全岗位隐患排查，具体包括："),
        ("p", "（1）是否按规定配备专职安全生产管理人员，特种作业人员是否持证上岗；"),
        ("p", "（2）重大危险源是否登记建档、定期检测评估，监测监控系统是否正常运行，是否存在关闭、破坏监控设备或者篡改、隐瞒、销毁相关数据的行为；"),
        ("p", "（3）应急预案是否按规定备案，是否定期组织应急演练。"),
        ("p", "3.整改销号情况。重点督查对已排查出的隐患是否建立台账，是否落实整改责任、措施、资金、时限和预案，对重大事故隐患是否实行挂牌督办，整改完成后是否经过验收销号，杜绝边整改边生产、以罚代改等问题。"),
        ("p", "4.执法检查情况。重点督查行业主管部门是否按照年度执法计划开展执法检查，对非法违法生产经营建设行为是否依法严厉打击。"),
        ("h1", "二、时间安排和督查方式"),
        ("p", "专项督查分为自查自纠、集中督查和总结提升三个阶段。各乡镇、各部门应当在收到通知后7日内完成自查，并将自查报告报送县安全生产委员会办公室。集中督查由县政府统一组织，共分四个督查组，每组由1名县级领导带队，分组安排如下："),
        ("table", "专项督查分组安排表", ["督查组", "督查范围", "督查时间", "带队领导"], [
            ["第一督查组", "城关镇、东山乡、县住房和城乡建设局", "11月20日至11月24日", "蒋立平"],
            ["第二督查组", "河口镇、青石乡、县交通运输局", "11月27日至12月1日", "韩雪梅"],
            ["第三督查组", "南坪镇、县应急管理局、县消防救援大队", "12月4日至12月8日", "杨国强"],
            ["第四督查组", "北岭乡、县市场监督管理局、县教育局", "12月11日至12月15日", "朱宏伟"],
        ]),
        ("p", "督查采取“四不两直”方式，即不发通知、不打招呼、不听汇报、不用陪同接待，直奔基层、直插现场。每个督查组对每个乡镇抽查企业不少于5家，对每个部门抽查监管对象不少于3家，重点抽查近两年发生过生产安全事故或者存在重大事故隐患的企业，并随机抽取部分企业进行“回头看”。"),
        ("h1", "三、督查结果运用"),
        ("p", "对督查中发现的一般隐患，督查组应当当场交办，责令立即整改；对重大事故隐患，由县安全生产委员会办公室挂牌督办，整改期限一般不超过30日，逾期未完成整改的，依法责令停产停业整顿。"),
        ("p", "督查结果纳入年度安全生产目标责任考核，对工作不力、隐患整改不到位的乡镇和部门，由县人民政府进行约谈；对因隐患排查整治不力导致发生生产安全事故的，依规依纪依法严肃追究有关单位和人员的责任，涉嫌犯罪的移送司法机关处理。"),
        ("h1", "四、有关要求"),
        ("h2", "（一）提高思想认识。"),
        ("p", "各乡镇、各部门要充分认识开展专项督查的重要性和紧迫性，切实把思想和行动统一到上级决策部署上来，主要负责同志每月至少召开1次专题会议研究隐患排查整治工作，坚决克服麻痹思想和侥幸心理，以“时时放心不下”的责任感抓好各项工作。"),
        ("h2", "（二）强化协作配合。"),
        ("p", "县安全生产委员会办公室负责专项督查的统筹协调，各成员单位要按照职责分工密切配合，建立隐患问题线索移交、联合执法和信息共享机制。对督查中发现的涉嫌违纪违法问题线索，应当及时移送县纪委监委第二纪检监察室依规依纪依法处理。"),
        ("h2", "（三）按时报送信息。"),
        ("p", "各乡镇、各部门应当确定1名信息联络员，每周五下午5点前报送本周隐患排查整治进展情况，并于2023年12月25日前报送专项督查工作总结。联系人：冯晓东，联系电话：0000-7654321，电子邮箱：aqb@example.gov.cn。"),
    ],
    "attachments": ["安全生产和消防安全隐患排查整治自查表", "重大事故隐患挂牌督办通知书（样式）"],
    "break_candidates": [
        ("开展这次专项督查要坚决防范和遏制什么？", ["坚决防范和遏制重特大事故发生"]),
        ("专项督查在哪些方面要做到全覆盖？", ["监管对象全覆盖"]),
        ("信息联络员每周什么时候报送隐患排查整治进展情况？", ["每周五下午5点前"]),
        ("人员密集场所之外，消防安全督查还覆盖哪些重点部位？", ["“九小场所”和老旧小区"]),
        ("督查责任落实情况时要看主要负责同志是否建立了什么制度？", ["领导干部包保责任制"]),
        ("对重大事故隐患的整改要杜绝哪些问题？", ["以罚代改"]),
        ("督查组抽查企业时重点抽查哪些企业？", ["近两年发生过生产安全事故"]),
        ("因隐患排查整治不力导致事故、涉嫌犯罪的，怎么处理？", ["移送司法机关处理"]),
        ("开展隐患排查整治要克服哪些思想？", ["麻痹思想和侥幸心理"]),
        ("督查中发现的涉嫌违纪违法问题线索移送哪个部门处理？", ["第二纪检监察室"]),
        ("重大危险源的监测监控方面要督查是否存在哪些行为？", ["篡改、隐瞒、销毁相关数据"]),
        ("对非法违法生产经营建设行为，行业主管部门应当怎么做？", ["依法严厉打击"]),
    ],
    "questions": [
        ("table_cell", "第三督查组的督查时间是什么时候？", ["12月4日至12月8日"]),
        ("table_cell", "负责河口镇、青石乡和县交通运输局的督查组由谁带队？", ["韩雪梅"]),
        ("table_cell", "第四督查组督查哪些乡镇和部门？", ["北岭乡、县市场监督管理局、县教育局"]),
        ("quantity", "各乡镇、各部门收到通知后几日内要完成自查？", ["7日内"]),
        ("quantity", "挂牌督办的重大事故隐患，整改期限一般为多长时间？", ["不超过30日"]),
        ("quantity", "主要负责同志每月召开几次专题会议研究隐患排查整治工作？", ["至少召开1次"]),
        ("quantity", "每个督查组在每个乡镇至少抽查几家企业？", ["不少于5家"]),
        ("metadata", "关于开展全县安全生产和消防安全隐患排查整治专项督查的通知的发文字号是什么？", ["某政办发[2023]45号"]),
        ("metadata", "关于开展全县安全生产和消防安全隐患排查整治专项督查的通知是哪个机关印发的？成文日期是什么？", ["某某县人民政府办公室", "二〇二三年十一月八日"]),
        ("sub_item", "隐患排查情况督查中，关于人员配备要检查哪些内容？", ["专职安全生产管理人员", "持证上岗"]),
        ("plain", "集中督查采取的“四不两直”方式是指什么？", ["不发通知、不打招呼、不听汇报、不用陪同接待"]),
    ],
}

REPORT_A = {
    "header": "秘密\u3000考察材料\u3000用后收回",
    "title": "关于某某区委领导班子及其成员近距离考察情况的报告",
    "team": "市委组织部第二考察组",
    "to": "市委组织部：",
    "paras": [
        ("p", "根据《关于开展2025年度市管领导干部近距离考察和专项检查工作的通知》安排，市委组织部第二考察组于2025年7月7日至7月25日对某某区委领导班子及其成员进行了近距离考察。考察组由市委组织部副部长林振华同志任组长，干部一科科长万里同志任副组长，成员有方圆、高峰、白洁。现将考察情况报告如下。"),
        ("h1", "一、考察工作开展情况"),
        ("p", "考察组共个别谈话138人次，发放民主测评表226份，收回有效表221份，实地走访了4个街道和6个区直部门，专门听取了退休老领导刘某某等同志的意见。考察期间，区委书记司马俊峰同志主持召开了考察动员会，区委副书记、区长上官婉清同志介绍了区政府工作情况。"),
        ("h1", "二、领导班子总体情况"),
        ("h2", "（一）主要成效"),
        ("p", "区委领导班子政治站位较高，能够坚决贯彻市委决策部署。一是理论学习制度落实较好，2024年区委常委会会议安排专题学习36次；二是重点项目推进有力，全区固定资产投资增长8.4%；三是基层治理创新取得实效，矛盾纠纷就地化解率达到96.2%。"),
        ("h2", "（二）存在的主要问题"),
        ("p", "一是个别班子成员担当精神不足，对历史遗留问题存在畏难情绪。二是民主集中制执行有时不够严格，个别议题会前沟通不充分。三是对年轻干部的培养使用统筹不够，近两年提拔的科级干部中35岁以下的仅占18%。"),
        ("h1", "三、班子成员考察情况"),
        ("p", "司马俊峰同志，区委书记。政治立场坚定，驾驭全局能力强，推动重点工作有思路、有办法。谈话中有干部反映，司马俊峰同志对分管领导放手不够，有时直接过问具体事务。"),
        ("p", "上官婉清同志，区委副书记、区长。熟悉经济工作，抓落实雷厉风行。民主测评中“担当作为”优秀率为89.1%。考察组建议上官婉清同志进一步注重听取基层意见。"),
        ("p", "诸葛文涛同志，区委常委、常务副区长。分管财政、发展改革和国资工作，业务较熟悉。有同志反映其在推进旧城改造项目时存在“等靠要”思想，向书记汇报工作时报喜多、报忧少。"),
        ("p", "欧阳晓东同志，区委常委、区纪委书记、区监委主任，执纪执法较为严格。常立新同志，区委常委、组织部部长，坚持好干部标准，选人用人公道正派。于春梅同志，区委常委、宣传部部长，意识形态工作抓得较实。"),
        ("p", "向东升同志，区委常委、政法委书记，平安建设成效明显，“担当作为”优秀率为81.3%。和建平同志，区委常委、统战部部长，工作作风扎实。副区长任志远、安晓燕同志分别分管城市建设和社会事业，群众评价较好。"),
        ("p", "民主测评主要结果如下："),
        ("table", None, ["姓名", "职务", "优秀率", "称职以上率"], [
            ["司马俊峰", "区委书记", "91.2%", "99.3%"],
            ["上官婉清", "区委副书记、区长", "86.4%", "98.9%"],
            ["诸葛文涛", "区委常委、常务副区长", "58.7%", "90.6%"],
            ["欧阳晓东", "区委常委、区纪委书记、区监委主任", "83.9%", "98.1%"],
            ["常立新", "区委常委、组织部部长", "80.5%", "97.6%"],
            ["于春梅", "区委常委、宣传部部长", "75.8%", "96.8%"],
            ["向东升", "区委常委、政法委书记", "74.0%", "95.5%"],
        ]),
        ("h1", "四、意见建议"),
        ("p", "考察组建议：对诸葛文涛同志进行提醒谈话，由区委书记司马俊峰同志负责谈话；对区委领导班子存在的问题，由区委于2025年10月底前完成整改并报告整改情况。林振华同志已就有关情况向市委组织部部务会作了汇报。"),
    ],
    "sign": ["市委组织部第二考察组", "2025年8月5日"],
    "names": ["司马俊峰", "上官婉清", "诸葛文涛", "欧阳晓东", "常立新", "于春梅", "向东升", "和建平", "任志远",
              "安晓燕", "林振华", "万里", "方圆", "高峰", "白洁"],
    "masked": ["刘某某"],
    "questions": [
        ("table_cell", "常务副区长的民主测评优秀率是多少？", ["58.7%"]),
        ("table_cell", "于春梅同志民主测评的优秀率是多少？", ["75.8%"]),
        ("table_cell", "政法委书记向东升的称职以上率是多少？", ["95.5%"]),
        ("plain", "考察组建议由谁对诸葛文涛同志进行提醒谈话？", ["司马俊峰"]),
        ("plain", "某某区委领导班子考察组的副组长是谁？", ["万里"]),
    ],
}

REPORT_B = {
    "header": "机密\u3000考察材料\u3000不得复制",
    "title": "关于某某县人民政府领导班子及其成员考察情况的报告",
    "team": "市委组织部第五考察组",
    "to": "市委组织部：",
    "paras": [
        ("p", "根据市委组织部工作安排，第五考察组于2023年10月9日至10月27日对某某县人民政府领导班子及其成员进行了综合考察。考察组组长由市委组织部副部长沈国栋同志担任，副组长为司徒静同志，成员有包文正、甘露、左明。现将考察情况报告如下。"),
        ("h1", "一、考察工作开展情况"),
        ("p", "考察组共个别谈话112人次，发放民主测评表187份，收回有效表183份，深度访谈服务对象和群众代表19人，走访了5个乡镇和4个县直部门，并听取了原县长王某某等老同志的意见。县委副书记、县长东方明远同志主持召开了县政府党组考察工作见面会。"),
        ("h1", "二、领导班子总体情况"),
        ("p", "县政府领导班子能够认真贯彻上级决策部署，团结协作较好。2022年全县一般公共预算收入增长6.7%，城乡居民人均可支配收入增长5.9%。存在的主要问题：一是推动产业转型升级办法不多；二是安全生产监管存在薄弱环节，全年发生较大事故1起；三是个别班子成员调查研究不够深入。"),
        ("h1", "三、班子成员考察情况"),
        ("p", "东方明远同志，县委副书记、县长。政治素质好，统筹能力强，抓经济工作思路清晰。谈话中有干部反映，东方明远同志对个别分管领导督促不够。"),
        ("p", "皇甫建华同志，县政府党组副书记、常务副县长。分管财政、税务和审计工作，“推动发展”优秀率为81.6%。考察组建议皇甫建华同志进一步加强债务风险防控。"),
        ("p", "慕容雪琴同志，副县长，分管教育、卫生健康和文化旅游工作，工作细致。令狐德昌同志，副县长，分管工业和安全生产，有同志反映其对较大事故的责任追究不够有力，向县长汇报时存在避重就轻的情况。"),
        ("p", "任红、安东同志分别分管农业农村和城乡建设工作，群众评价较好。常青同志，县政府党组成员，协助分管招商引资。于海波同志，县长助理；向阳同志，县政府办公室主任，服务保障工作到位。白雪松同志，县政府党组成员、县公安局局长，平安建设有力，“担当作为”优秀率为87.5%。"),
        ("p", "民主测评主要结果如下："),
        ("table", None, ["姓名", "职务", "优秀率", "称职以上率"], [
            ["东方明远", "县委副书记、县长", "90.3%", "99.5%"],
            ["皇甫建华", "常务副县长", "84.7%", "98.4%"],
            ["慕容雪琴", "副县长", "82.2%", "97.8%"],
            ["令狐德昌", "副县长", "56.9%", "89.7%"],
            ["任红", "副县长", "78.6%", "96.9%"],
            ["安东", "副县长", "76.1%", "96.0%"],
        ]),
        ("h1", "四、意见建议"),
        ("p", "考察组建议：对令狐德昌同志进行诫勉谈话，由县长东方明远同志负责谈话；对安全生产监管中存在的问题，由县政府于2024年1月底前完成整改。沈国栋同志已就有关情况向市委组织部部务会作了汇报。"),
    ],
    "sign": ["市委组织部第五考察组", "2023年11月3日"],
    "names": ["东方明远", "皇甫建华", "慕容雪琴", "令狐德昌", "任红", "安东", "常青", "于海波", "向阳", "白雪松",
              "沈国栋", "司徒静", "包文正", "甘露", "左明"],
    "masked": ["王某某"],
    "questions": [
        ("table_cell", "分管工业和安全生产的副县长民主测评优秀率是多少？", ["56.9%"]),
        ("table_cell", "分管教育和卫生健康的副县长慕容雪琴，民主测评优秀率是多少？", ["82.2%"]),
        ("table_cell", "任红同志的称职以上率是多少？", ["96.9%"]),
        ("plain", "考察组建议对令狐德昌同志进行什么谈话？由谁负责？", ["诫勉谈话", "东方明远"]),
        ("plain", "某某县政府领导班子考察组的副组长是谁？", ["司徒静"]),
    ],
}

LAW_A = {"md": "社会法/安全生产法(2021-06-10).md", "short": "安全生产法", "footer": "dash",
         "plain": [("plain", "生产经营单位主要负责人未履行安全生产管理职责，导致发生较大事故的，处多少罚款？", ["上一年年收入百分之六十"]),
                   ("plain", "生产经营单位的特种作业人员上岗作业前必须满足什么条件？", ["专门的安全作业培训"])]}
LAW_B = {"md": "行政法/固体废物污染环境防治法(2020-04-29).md", "short": "固体废物污染环境防治法", "footer": "hyphen",
         "plain": [("plain", "医疗卫生机构产生的医疗废物应当交由谁处置？", ["医疗废物集中处置单位"]),
                   ("plain", "产生工业固体废物的单位应当取得什么许可证？", ["排污许可证"])]}

NOTICE_C = {
    # a 县委办公室 实施意见: no 份号 / 密级 / 紧急程度, no running header, "-N-" page numbers, 发文字号 with
    # round brackets, a five-column task table whose rows may split over a page (Word's default)
    "copy_no": None,
    "secret": None,
    "urgency": None,
    "masthead": "中共某某县委办公室文件",
    "doc_number": "某县委办发（2024）18号",
    "doc_number_norm": "某县委办发〔2024〕18号",
    "title_lines": ["关于进一步激励全县干部", "新时代新担当新作为的实施意见"],
    "addressee": "各乡镇党委，县委各部委，县直各单位党组（党委），各人民团体：",
    "issuer": "中共某某县委办公室",
    "date": "2024年12月1日",
    "issued_on": "2024-12-01",
    "note": None,
    "cc": "抄送：市委组织部，县人大常委会办公室，县政府办公室，县政协办公室。",
    "printer": "中共某某县委办公室",
    "print_date": "2024年12月3日印发",
    "header": None,
    "footer": "hyphen",
    "attachment_sep": ".",
    "table_style": {"widths_mm": [12, 56, 38, 26, 28], "size": 12, "cant_split": False, "must_cross_page": True},
    "body": [
        ("p", "为深入贯彻落实习近平新时代中国特色社会主义思想和党的二十大精神，认真落实中共中央办公厅《关于进一步激励广大干部新时代新担当新作为的意见》，进一步树立讲担当、重担当的鲜明导向，激励全县广大干部在推动高质量发展中担当作为、干事创业，经县委同意，结合我县实际，现提出如下实施意见。"),
        ("h1", "一、总体要求"),
        ("p", "坚持以习近平新时代中国特色社会主义思想为指导，坚持党管干部原则，坚持严管和厚爱结合、激励和约束并重，把激励干部担当作为贯穿干部培养、选拔、管理、使用全过程，力争到2025年底形成系统完备、科学规范、有效管用的干部激励保障制度体系，推动全县干部队伍精神面貌持续向好。"),
        ("h1", "二、主要措施"),
        ("h2", "（一）树立鲜明用人导向。"),
        ("p", "1.突出政治标准。把政治标准放在首位，坚持有为才有位，对在重大斗争、重大任务、重大考验中表现突出的干部，在同等条件下优先提拔使用，做到优者上、庸者下、劣者汰。"),
        ("p", "2.大力选拔年轻干部。实施优秀年轻干部“育苗”工程，每年从乡镇和县直单位遴选一批优秀年轻干部纳入县级储备库，储备库人数按照县管正职领导职数1∶1、副职领导职数1∶2的比例动态调整。"),
        ("p", "3.加强实践锻炼。对缺乏基层经历的年轻干部，有计划地选派到乡村振兴、项目建设、信访维稳、应急处突等一线岗位锻炼，锻炼时间一般不少于2年，锻炼期间表现优秀的可以提前使用。"),
        ("h2", "（二）完善考核评价机制。"),
        ("p", "1.改进日常考核。推行干部工作实绩“季度纪实、半年评估、年终考核”制度，具体包括："),
        ("p", "（1）季度纪实。每季度末由干部本人填报实绩清单，经所在单位党组织审核后报县委组织部备案；"),
        ("p", "（2）半年评估。每年7月由县委考核办组织开展半年评估，评估结果分为①好、②较好、③一般、④较差四个等次；"),
        ("p", "（3）年终考核。年度考核中有下列情形之一的，不得确定为优秀等次："),
        ("p", "①年度内受到诫勉、组织处理或者党纪政务处分的；"),
        ("p", "②所在单位或者分管领域发生重大安全生产事故、群体性事件造成恶劣影响的；"),
        ("p", "③在推动落实县委重大决策部署中敷衍塞责、推诿扯皮，造成严重后果的。"),
        ("p", "2.强化结果运用。考核结果与干部选拔任用、评先评优、绩效奖金直接挂钩，连续3年考核为优秀等次的，按规定晋升一级职级；考核为较差等次的，对其进行诫勉并调整岗位。"),
        ("h2", "（三）落实容错纠错机制。"),
        ("p", "对干部在改革创新、先行先试中出现的失误错误，符合容错情形的，按照“三个区分开来”的要求予以容错免责。容错免责申请应当在收到问责或者处理决定之日起15个工作日内提出，县纪委监委会同县委组织部在30日内作出认定。对受到诬告错告的干部，应当在查清事实后及时澄清正名，消除不良影响。"),
        ("h2", "（四）加大关心关爱力度。"),
        ("p", "严格落实干部带薪年休假、健康体检等制度，每年组织干部体检不少于1次；对长期在艰苦边远地区和困难岗位工作的干部，在职级晋升、评优评先等方面给予倾斜；乡镇干部工作补贴标准由县财政局会同县人力资源和社会保障局每2年评估调整一次。各项重点任务分解如下："),
        ("table", "激励干部担当作为重点任务分解表", ["序号", "重点任务", "责任单位", "2024年基数", "2025年目标"], [
            ["1", "开展“担当作为好干部”评选表彰活动，对获评干部优先推荐提拔使用", "县委组织部、县人力资源和社会保障局", "表彰48人", "表彰不少于60人"],
            ["2", "选拔35岁左右优秀年轻干部进入乡镇领导班子", "县委组织部", "占比21.4%", "占比达到30%以上"],
            ["3", "选派年轻干部到重点项目、信访维稳、乡村振兴一线蹲苗历练", "县委组织部、县发展和改革局", "86人", "不少于120人"],
            ["4", "落实容错纠错机制，对受到不实举报的干部及时澄清正名", "县纪委监委", "澄清正名9人次", "办结率100%"],
            ["5", "实施基层干部学历提升和专业化能力培训计划", "县委党校、县教育局", "培训覆盖率72.5%", "培训覆盖率达到95%"],
            ["6", "落实乡镇工作补贴和艰苦边远地区津贴政策", "县财政局、县人力资源和社会保障局", "人均每月380元", "人均每月不低于450元"],
            ["7", "推进不担当不作为干部调整工作，畅通干部能上能下渠道", "县委组织部", "调整12人", "动态调整，应调尽调"],
            ["8", "开展干部谈心谈话和心理健康关爱服务", "县委组织部、县卫生健康局", "覆盖率64.8%", "覆盖率达到90%以上"],
            ["9", "建立干部担当作为正向激励典型案例库，定期发布典型案例", "县委宣传部", "收录案例23个", "收录案例不少于40个"],
        ]),
        ("p", "各责任单位应当于每年12月20日前将重点任务完成情况书面报送县委组织部干部监督股。"),
        ("h1", "三、组织保障"),
        ("h2", "（一）加强组织领导。"),
        ("p", "县委成立激励干部担当作为工作领导小组，由县委副书记任组长，县委常委、组织部部长任副组长，领导小组办公室设在县委组织部，负责日常协调、督促检查和考核评估等工作。"),
        ("h2", "（二）压实工作责任。"),
        ("p", "各级党组织要切实担负起激励干部担当作为的主体责任，党组织书记是第一责任人，每半年至少专题研究1次干部激励工作，领导班子成员要结合分管领域抓好落实，形成一级抓一级、层层抓落实的工作格局。"),
        ("h2", "（三）营造良好氛围。"),
        ("p", "县委宣传部要会同县融媒体中心开设“担当作为好干部”专栏，每季度集中宣传一批先进典型，讲好干部干事创业故事，引导广大干部见贤思齐、奋勇争先。"),
        ("p", "本意见自印发之日起施行，由县委组织部负责解释。此前有关规定与本意见不一致的，以本意见为准。"),
    ],
    "attachments": ["激励干部担当作为重点任务责任清单", "容错免责申请审批表（样表）"],
    "break_candidates": [
        ("激励干部担当作为要贯穿干部工作的哪些环节？", ["培养、选拔、管理、使用全过程"]),
        ("对在重大斗争、重大任务、重大考验中表现突出的干部怎样使用？", ["优先提拔使用"]),
        ("优秀年轻干部“育苗”工程每年从哪里遴选干部？", ["从乡镇和县直单位遴选"]),
        ("缺乏基层经历的年轻干部选派到哪些一线岗位锻炼？", ["乡村振兴、项目建设、信访维稳、应急处突"]),
        ("干部每季度填报的实绩清单由谁审核？", ["所在单位党组织审核"]),
        ("考核结果与哪些事项直接挂钩？", ["绩效奖金直接挂钩"]),
        ("连续3年考核为优秀等次的干部有什么激励？", ["晋升一级职级"]),
        ("对受到诬告错告的干部应当怎么处理？", ["澄清正名，消除不良影响"]),
        ("对长期在艰苦边远地区工作的干部在哪些方面给予倾斜？", ["职级晋升、评优评先"]),
        ("重点任务完成情况书面报送到哪个股室？", ["干部监督股"]),
        ("党组织书记多长时间至少专题研究一次干部激励工作？", ["每半年至少专题研究1次"]),
        ("“担当作为好干部”专栏要引导干部做到什么？", ["见贤思齐、奋勇争先"]),
    ],
    "questions": [
        ("table_cell", "选拔优秀年轻干部进入乡镇领导班子，2025年的目标是多少？", ["占比达到30%以上"]),
        ("table_cell", "基层干部学历提升和专业化能力培训计划由哪些单位负责？", ["县委党校、县教育局"]),
        ("table_cell", "乡镇工作补贴和艰苦边远地区津贴政策2024年的基数是多少？", ["人均每月380元"]),
        ("table_cell", "干部谈心谈话和心理健康关爱服务2025年的目标是什么？", ["覆盖率达到90%以上"]),
        ("table_cell", "建立干部担当作为正向激励典型案例库，2025年的目标是什么？", ["收录案例不少于40个"]),
        ("quantity", "对缺乏基层经历的年轻干部，一线岗位锻炼时间一般不少于多久？", ["不少于2年"]),
        ("quantity", "容错免责申请应当在收到问责或者处理决定后多长时间内提出？", ["15个工作日内"]),
        ("quantity", "县纪委监委会同县委组织部在多少日内作出容错认定？", ["30日内"]),
        ("quantity", "储备库人数按照县管副职领导职数的什么比例动态调整？", ["1∶2"]),
        ("metadata", "关于进一步激励全县干部新时代新担当新作为的实施意见的发文字号是什么？", ["某县委办发（2024）18号"]),
        ("metadata", "关于进一步激励全县干部新时代新担当新作为的实施意见是哪个机关印发的？成文日期是什么？", ["中共某某县委办公室", "2024年12月1日"]),
        ("sub_item", "年终考核中有哪些情形不得确定为优秀等次？", ["受到诫勉、组织处理或者党纪政务处分", "敷衍塞责、推诿扯皮"]),
        ("sub_item", "半年评估的结果分为哪几个等次？", ["①好、②较好、③一般、④较差"]),
        ("plain", "激励干部担当作为工作领导小组的组长由谁担任？", ["县委副书记"]),
    ],
}

REPORT_C = {
    "header": "内部资料\u3000考核材料",
    "footer": "hyphen",
    "title": "关于某某县委领导班子及其成员2024年度考核情况的报告",
    "team": "市委组织部第三考核组",
    "to": "市委组织部：",
    "paras": [
        ("p", "按照市委组织部统一部署，第三考核组于2024年12月9日至12月20日对某某县委领导班子及其成员进行了年度考核。考核组组长由市委组织部二级巡视员宇文博同志担任，副组长为钟离秀英同志，成员有田野、钱进、宁静。现将考核情况报告如下。"),
        ("h1", "一、考核工作基本情况"),
        ("p", "考核组共个别谈话96人次，发放民主测评表158份，收回有效表155份，召开座谈会3场，查阅会议记录、文件资料等412份，并听取了原县委书记陈某某等老同志的意见。县委书记夏侯振宇主持召开了考核工作会议，县委副书记、县长公孙明哲介绍了县政府年度工作情况。"),
        ("h1", "二、领导班子年度工作情况"),
        ("p", "县委领导班子全年召开常委会会议41次、专题学习研讨12次，全县地区生产总值增长6.1%，一般公共预算收入增长4.3%。存在的主要问题：一是推进重大项目的办法不多，年度计划开工项目开工率为78.6%；二是个别领域风险隐患排查不够及时；三是班子成员之间的沟通有时不够充分。"),
        ("h1", "三、班子成员考核情况"),
        ("p", "夏侯振宇书记，县委书记。政治站位高，统筹推进能力强，注重抓班子带队伍。谈话中有干部反映，夏侯振宇书记对个别常委分管工作过问过细。"),
        ("p", "公孙明哲同志，县委副书记、县长。抓经济工作思路清晰，推动招商引资成效明显，“推动发展”优秀率为88.4%。考核组建议公孙明哲同志进一步加强对安全生产工作的统筹。"),
        ("p", "端木红梅同志，县委副书记，分管党建和政法工作，作风务实。尉迟国华主任，县委常委、县纪委书记、县监委主任，执纪问责敢于较真碰硬。长孙立军同志，县委常委、常务副县长，分管财政和国资，有同志反映其对债务风险化解推进偏慢，向县委汇报时存在避重就轻的情况。"),
        ("p", "县委常委石磊、马力、文静同志分别担任县委办公室主任、组织部部长、宣传部部长，工作较为扎实。高原同志，县委常委、政法委书记，平安建设成效明显；白桦同志，县委常委、统战部部长；牛犇同志，县委常委、人武部政委，均能履职尽责。"),
        ("p", "民主测评主要结果如下："),
        ("table", None, ["姓名", "职务", "测评票数", "优秀率", "称职以上率"], [
            ["夏侯振宇", "县委书记", "155", "90.3%", "99.4%"],
            ["公孙明哲", "县委副书记、县长", "155", "87.1%", "98.7%"],
            ["端木红梅", "县委副书记", "154", "83.8%", "98.1%"],
            ["尉迟国华", "县委常委、县纪委书记、县监委主任", "155", "85.2%", "97.6%"],
            ["长孙立军", "县委常委、常务副县长", "153", "57.5%", "88.9%"],
            ["石磊", "县委常委、县委办公室主任", "155", "79.4%", "96.8%"],
            ["马力", "县委常委、组织部部长", "154", "81.2%", "97.4%"],
            ["文静", "县委常委、宣传部部长", "152", "73.7%", "95.4%"],
        ]),
        ("h1", "四、意见建议"),
        ("p", "考核组建议：对长孙立军同志进行提醒谈话，由县委书记夏侯振宇同志负责；县委领导班子年度考核等次确定为“好”。宇文博同志已就有关情况向市委组织部分管领导作了汇报。"),
    ],
    "sign": ["市委组织部第三考核组", "2024年12月26日"],
    "names": ["宇文博", "钟离秀英", "田野", "钱进", "宁静", "夏侯振宇", "公孙明哲", "端木红梅", "尉迟国华", "长孙立军",
              "石磊", "马力", "文静", "高原", "白桦", "牛犇"],
    "masked": ["陈某某"],
    "questions": [
        ("table_cell", "长孙立军同志的民主测评优秀率是多少？", ["57.5%"]),
        ("table_cell", "县长公孙明哲民主测评的优秀率是多少？", ["87.1%"]),
        ("table_cell", "宣传部部长文静的称职以上率是多少？", ["95.4%"]),
        ("table_cell", "县委副书记端木红梅的民主测评优秀率是多少？", ["83.8%"]),
        ("plain", "考核组建议由谁对长孙立军同志进行提醒谈话？", ["夏侯振宇"]),
        ("plain", "某某县委领导班子考核组的副组长是谁？", ["钟离秀英"]),
    ],
}

LAW_C = {"md": "行政法/药品管理法(2019-08-26).md", "short": "药品管理法", "footer": "of",
         "plain": [("plain", "药品上市许可持有人每年向省级药品监督管理部门报告生产销售等情况，应当建立什么制度？", ["年度报告制度"]),
                   ("quantity", "为假药、劣药提供储存、运输等便利条件，违法收入不足五万元的，罚款怎么计算？", ["按五万元计算"])]}

VARIANTS = {"a": (NOTICE_A, REPORT_A, LAW_A), "b": (NOTICE_B, REPORT_B, LAW_B), "c": (NOTICE_C, REPORT_C, LAW_C)}
# scan noise: (seed, rotation in degrees)
SCAN = {"a": (37, 0.5), "b": (45, -0.7), "c": (53, 0.3)}
# the notice as OFD: "line" (ofd: prefix, a TextObject per printed line, a TextCode per word run, DeltaX
# compressed with g) or "run" (default namespace, a TextObject per character run, every DeltaX written)
OFD_STYLE = {"a": "line", "b": "line", "c": "run"}


# ----------------------------------------------------------------------------------------------------
# docx helpers
# ----------------------------------------------------------------------------------------------------

def _fonts(run, name: str, size: float, bold: bool = False, color: RGBColor | None = None) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    rpr = run._element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)


def _para(container, text: str = "", *, font: str = SERIF, size: float = BODY_PT, bold: bool = False,
          align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent_chars: float = 0, color: RGBColor | None = None,
          exact: float | None = LINE_PT, left_chars: float = 0):
    p = container.add_paragraph()
    pf = p.paragraph_format
    pf.alignment = align
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    if exact:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(exact)
    if indent_chars:
        pf.first_line_indent = Pt(size * indent_chars)
    if left_chars:
        pf.left_indent = Pt(size * left_chars)
    if text:
        _fonts(p.add_run(text), font, size, bold, color)
    return p


def _field(paragraph, instr: str, font: str, size: float) -> None:
    def run_with(child):
        r = paragraph.add_run()
        _fonts(r, font, size)
        r._element.append(child)
        return r

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run_with(begin)
    it = OxmlElement("w:instrText")
    it.set(qn("xml:space"), "preserve")
    it.text = f" {instr} "
    run_with(it)
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run_with(sep)
    _fonts(paragraph.add_run("1"), font, size)
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


def _border(paragraph, sides: dict[str, tuple[str, int]]) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    bdr = OxmlElement("w:pBdr")
    for side in ("top", "bottom"):
        if side in sides:
            color, sz = sides[side]
            el = OxmlElement(f"w:{side}")
            el.set(qn("w:val"), "single")
            el.set(qn("w:sz"), str(sz))
            el.set(qn("w:space"), "1")
            el.set(qn("w:color"), color)
            bdr.append(el)
    ppr.append(bdr)


def _page_footer(footer_part, style: str, even: bool = False) -> None:
    p = footer_part.paragraphs[0] if footer_part.paragraphs else footer_part.add_paragraph()
    size = 14
    if style == "dash":  # GB/T 9704: — N —, odd pages right, even pages left
        p.alignment = WD_ALIGN_PARAGRAPH.LEFT if even else WD_ALIGN_PARAGRAPH.RIGHT
        _fonts(p.add_run("— "), SERIF, size)
        _field(p, "PAGE", SERIF, size)
        _fonts(p.add_run(" —"), SERIF, size)
    elif style == "hyphen":
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _fonts(p.add_run("-"), SERIF, size)
        _field(p, "PAGE", SERIF, size)
        _fonts(p.add_run("-"), SERIF, size)
    else:  # 第N页 共M页
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _fonts(p.add_run("第"), SERIF, 12)
        _field(p, "PAGE", SERIF, 12)
        _fonts(p.add_run("页 共"), SERIF, 12)
        _field(p, "NUMPAGES", SERIF, 12)
        _fonts(p.add_run("页"), SERIF, 12)


def _page_header(header_part, text: str | None) -> None:
    if not text:  # GB/T 9704 itself has no running header: many 公文 have none
        return
    p = header_part.paragraphs[0] if header_part.paragraphs else header_part.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _fonts(p.add_run(text), SERIF, 12)


def _new_document(header: str | None, footer: str):
    doc = Document()
    import datetime as _dt
    stamp = _dt.datetime(2025, 1, 1, 8, 0, 0)
    cp = doc.core_properties
    cp.author, cp.last_modified_by, cp.created, cp.modified, cp.revision = "", "", stamp, stamp, 1
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
    sec.left_margin, sec.right_margin = Mm(28), Mm(26)
    sec.header_distance, sec.footer_distance = Mm(20), Mm(22)
    normal = doc.styles["Normal"]
    normal.font.name = SERIF
    normal.font.size = Pt(BODY_PT)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), SERIF)
    if footer == "dash":
        doc.settings.odd_and_even_pages_header_footer = True
        _page_header(sec.header, header)
        _page_header(sec.even_page_header, header)
        _page_footer(sec.footer, footer)
        _page_footer(sec.even_page_footer, footer, even=True)
    else:
        _page_header(sec.header, header)
        _page_footer(sec.footer, footer)
    return doc


def _table(doc, header: list[str], rows: list[list[str]], size: float = 14, widths_mm: list[float] | None = None,
           cant_split: bool = True):
    """A grid table, its header row repeated on each page; rows kept whole unless not cant_split (Word's
    default: a row may break over a page). With widths_mm the columns have those widths and the cells'
    text is centred only in the narrow columns (a long cell wraps, left aligned)."""
    t = doc.add_table(rows=1 + len(rows), cols=len(header))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    if widths_mm:
        t.autofit = False
        for j, w in enumerate(widths_mm):
            t.columns[j].width = Mm(w)
    for i, row in enumerate([header] + rows):
        trpr = t.rows[i]._tr.get_or_add_trPr()
        if cant_split:
            trpr.append(OxmlElement("w:cantSplit"))
        if i == 0:
            trpr.append(OxmlElement("w:tblHeader"))
        for j, text in enumerate(row):
            cell = t.rows[i].cells[j]
            if widths_mm:
                cell.width = Mm(widths_mm[j])
            p = cell.paragraphs[0]
            wide = widths_mm is not None and widths_mm[j] >= 40 and i > 0
            p.alignment = WD_ALIGN_PARAGRAPH.LEFT if wide else WD_ALIGN_PARAGRAPH.CENTER
            p.paragraph_format.space_before = Pt(2)
            p.paragraph_format.space_after = Pt(2)
            _fonts(p.add_run(text), SANS if i == 0 else SERIF, size, bold=False)
    return t


# ----------------------------------------------------------------------------------------------------
# notice
# ----------------------------------------------------------------------------------------------------

def build_notice(spec: dict, path: Path, pad: int, table_gap: int = 0) -> list[str]:
    """Writes the notice; returns its text paragraphs (and table cells) for substring checks."""
    doc = _new_document(spec["header"], spec["footer"])
    texts: list[str] = []
    red = RGBColor(0xE0, 0x00, 0x00)
    for line in (spec["copy_no"], spec["secret"], spec["urgency"]):
        if line:
            _para(doc, line, font=SANS, align=WD_ALIGN_PARAGRAPH.LEFT)
            texts.append(line)
    _para(doc, "")
    _para(doc, spec["masthead"], font=SERIF, size=36, bold=True, color=red, align=WD_ALIGN_PARAGRAPH.CENTER, exact=None)
    texts.append(spec["masthead"])
    _para(doc, "")
    _para(doc, "")
    p = _para(doc, spec["doc_number"], align=WD_ALIGN_PARAGRAPH.CENTER)
    texts.append(spec["doc_number"])
    _border(p, {"bottom": ("E00000", 18)})
    for _ in range(1 + pad):
        _para(doc, "")
    for line in spec["title_lines"]:
        _para(doc, line, size=22, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, exact=36)
        texts.append(line)
    _para(doc, "")
    _para(doc, spec["addressee"])
    texts.append(spec["addressee"])
    for kind, *rest in spec["body"]:
        if kind == "h1":
            _para(doc, rest[0], font=SANS, indent_chars=2)
            texts.append(rest[0])
        elif kind == "h2":
            _para(doc, rest[0], font=SERIF, bold=True, indent_chars=2)
            texts.append(rest[0])
        elif kind == "p":
            _para(doc, rest[0], indent_chars=2)
            texts.append(rest[0])
        elif kind == "table":
            caption, header, rows, *own = rest  # a table's own style (a dict) after its rows, if any
            cap = _para(doc, caption, font=SANS, align=WD_ALIGN_PARAGRAPH.CENTER)
            if not own:  # the table_gap lines go before the notice's (first) table only
                cap.paragraph_format.space_before = Pt(LINE_PT * table_gap)
            cap.paragraph_format.keep_with_next = True
            texts.append(caption)
            style = own[0] if own else spec.get("table_style", {})
            _table(doc, header, rows, size=style.get("size", 14), widths_mm=style.get("widths_mm"),
                   cant_split=style.get("cant_split", True))
            texts.extend(c for row in [header] + rows for c in row)
    _para(doc, "")
    att, dot = spec["attachments"], spec.get("attachment_sep", "．")
    _para(doc, f"附件：1{dot}{att[0]}", indent_chars=2)
    for i, a in enumerate(att[1:], start=2):
        _para(doc, f"{i}{dot}{a}", left_chars=5)
    texts.append(f"附件：1{dot}{att[0]}")
    texts.extend(f"{i}{dot}{a}" for i, a in enumerate(att[1:], start=2))
    # 署名, 成文日期, 附注 and 版记 kept together on the last page
    tail = [_para(doc, ""), _para(doc, "")]
    p = _para(doc, spec["issuer"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    p.paragraph_format.right_indent = Pt(BODY_PT * 4)
    tail.append(p)
    p = _para(doc, spec["date"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    p.paragraph_format.right_indent = Pt(BODY_PT * 4)
    tail.append(p)
    texts.extend([spec["issuer"], spec["date"]])
    if spec["note"]:
        tail.append(_para(doc, spec["note"], indent_chars=2))
        texts.append(spec["note"])
    tail.append(_para(doc, ""))
    p = _para(doc, spec["cc"], size=14, left_chars=0.5)
    tail.append(p)
    for t in tail:
        t.paragraph_format.keep_with_next = True
    _border(p, {"top": ("000000", 12)})
    line = spec["printer"] + "\u3000" * 8 + spec["print_date"]
    p = _para(doc, line, size=14, left_chars=0.5)
    _border(p, {"top": ("000000", 6), "bottom": ("000000", 12)})
    texts.extend([spec["cc"], line])
    doc.save(str(path))
    return texts


# ----------------------------------------------------------------------------------------------------
# law
# ----------------------------------------------------------------------------------------------------

ARTICLE = re.compile(r"^(第[一二三四五六七八九十百零]+条)[\s\u3000]+")


def read_law(md_path: Path) -> tuple[str, list[str], list[tuple[str, str]]]:
    """(title, preface lines, blocks) — blocks: ('title'|'chapter'|'section'|'p', text)."""
    lines = md_path.read_text(encoding="utf-8").splitlines()
    title, preface, blocks, in_info = "", [], [], True
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("<!--"):
            in_info = False
            continue
        if line.startswith("# "):
            title = line[2:].strip()
            continue
        if in_info:
            preface.append(line)
            continue
        if line.startswith("### "):
            blocks.append(("section", line[4:].strip()))
        elif line.startswith("## "):
            blocks.append(("chapter", line[3:].strip()))
        else:
            blocks.append(("p", line))
    return title, preface, blocks


def build_law(spec: dict, path: Path) -> tuple[str, list[dict]]:
    """Writes the law docx; returns (title, articles [{'num','text'}])."""
    title, preface, blocks = read_law(LAWS / spec["md"])
    doc = _new_document(title, spec["footer"])
    _para(doc, title, size=22, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, exact=40)
    for line in preface:
        _para(doc, line, size=BODY_PT, indent_chars=2)
    articles: list[dict] = []
    for kind, text in blocks:
        if kind in ("chapter", "section"):
            _para(doc, text.replace("\u3000", "\u3000"), font=SANS if kind == "chapter" else SERIF,
                  bold=kind == "section", align=WD_ALIGN_PARAGRAPH.CENTER)
            continue
        m = ARTICLE.match(text)
        p = _para(doc, indent_chars=2)
        if m:
            _fonts(p.add_run(m.group(1)), SANS, BODY_PT)
            _fonts(p.add_run("\u3000" + text[m.end():]), SERIF, BODY_PT)
            articles.append({"num": m.group(1), "text": m.group(1) + text[m.end():]})
        else:
            _fonts(p.add_run(text), SERIF, BODY_PT)
            if articles:
                articles[-1]["text"] += text
    doc.save(str(path))
    return title, articles


# ----------------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------------

def build_report(spec: dict, path: Path) -> list[str]:
    doc = _new_document(spec["header"], spec.get("footer", "dash"))
    texts = [spec["title"], spec["team"], spec["to"]]
    _para(doc, spec["title"], size=22, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, exact=36)
    _para(doc, spec["team"], font=SERIF, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, "")
    _para(doc, spec["to"])
    for kind, *rest in spec["paras"]:
        if kind == "h1":
            _para(doc, rest[0], font=SANS, indent_chars=2)
            texts.append(rest[0])
        elif kind == "h2":
            _para(doc, rest[0], bold=True, indent_chars=2)
            texts.append(rest[0])
        elif kind == "p":
            _para(doc, rest[0], indent_chars=2)
            texts.append(rest[0])
        else:
            _, header, rows = rest
            _table(doc, header, rows)
            texts.extend(c for row in [header] + rows for c in row)
    _para(doc, "")
    for line in spec["sign"]:
        p = _para(doc, line, align=WD_ALIGN_PARAGRAPH.RIGHT)
        p.paragraph_format.right_indent = Pt(BODY_PT * 2)
        texts.append(line)
    doc.save(str(path))
    return texts


# ----------------------------------------------------------------------------------------------------
# conversion and checks
# ----------------------------------------------------------------------------------------------------

def to_pdf(docx_paths: list[Path], outdir: Path, profile: Path) -> None:
    cmd = ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
           "--convert-to", "pdf", "--outdir", str(outdir)] + [str(p) for p in docx_paths]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    for p in docx_paths:
        if not (outdir / (p.stem + ".pdf")).exists():
            raise RuntimeError(f"soffice did not convert {p.name}: {done.stderr.strip()[-500:]}")


def page_count(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


FOOTER_LINE = re.compile(r"^([—\-–－]\d+[—\-–－]|第\d+页共\d+页)$")


def page_texts(pdf: Path, header: str | None, keep_furniture: bool = False) -> list[str]:
    """Normalised text of each page (pdftotext -f N -l N), running header and page number removed
    (all kept with keep_furniture)."""
    pages = []
    for n in range(1, page_count(pdf) + 1):
        raw = subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"],
                             capture_output=True, text=True, check=True).stdout
        keep = [x for x in (norm(line) for line in raw.splitlines())
                if x and (keep_furniture or not FOOTER_LINE.match(x))]
        text = "".join(keep)
        if norm(header) and text.startswith(norm(header)):  # pdftotext may split the header line
            text = text[len(norm(header)):]
        pages.append(text)
    return pages


def sentence_of(text: str, key: str) -> str:
    """The sentence (up to 。；！？ or the paragraph's ends) of text holding key."""
    i = text.index(key)
    start = max(text.rfind(c, 0, i) for c in "。；！？：") + 1
    ends = [j for j in (text.find(c, i + len(key)) for c in "。；！？") if j != -1]
    end = min(ends) + 1 if ends else len(text)
    return text[start:end]


def locate(pages: list[str], snippet: str) -> tuple[int, int] | None:
    """(first page, last page) of snippet (normalised) in the concatenated pages, 1-based."""
    s = norm(snippet)
    joined = "".join(pages)
    i = joined.find(s)
    if i < 0:
        return None
    bounds, acc = [], 0
    for p in pages:
        acc += len(p)
        bounds.append(acc)

    def page_at(pos: int) -> int:
        for k, b in enumerate(bounds):
            if pos < b:
                return k + 1
        return len(pages)

    return page_at(i), page_at(i + len(s) - 1)


def table_span(pages: list[str], spec: dict) -> tuple[int, int] | None:
    """(page of the table's first body row, page of its last), from the rows' second cells (their first
    8 characters: a wrapped cell may be read in another order than it was written)."""
    table = next((b for b in spec["body"] if b[0] == "table"), None)
    if table is None:
        return None
    rows = table[3]
    first, last = locate(pages, rows[0][1][:8]), locate(pages, rows[-1][1][:8])
    return (first[0], last[1]) if first and last else None


def crossing(pages: list[str], sentence: str) -> tuple[int, int] | None:
    loc = locate(pages, sentence)
    if loc and loc[1] == loc[0] + 1:
        return loc
    return None


def make_scan(pdf: Path, out: Path, workdir: Path, seed: int, angle: float) -> int:
    import numpy as np
    from PIL import Image

    prefix = workdir / "scan"
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", str(pdf), str(prefix)], check=True)
    files = sorted(workdir.glob("scan-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
    rng = np.random.default_rng(seed)
    images = []
    for k, f in enumerate(files):
        im = Image.open(f).convert("L")
        im = im.rotate(angle * (1 if k % 2 == 0 else -0.6), resample=Image.BICUBIC, expand=False, fillcolor=255)
        a = np.asarray(im, dtype=np.float32)
        a = a * 0.93 + 12  # slightly grey paper, toner not quite black
        a += rng.normal(0, 6, a.shape)
        specks = rng.random(a.shape) < 0.0004
        a[specks] = rng.uniform(40, 140, int(specks.sum()))
        images.append(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L"))
    images[0].save(str(out), "PDF", save_all=True, append_images=images[1:], resolution=150.0)
    return len(images)


# ----------------------------------------------------------------------------------------------------
# OFD (GB/T 33190) from the PDF's text boxes
# ----------------------------------------------------------------------------------------------------

OFD_NS = "http://www.ofdspec.org/2016"
PT_MM = 25.4 / 72
BOX_EM = 1.3  # pdftotext's word box height in font sizes for the Noto CJK fonts LibreOffice embeds
ASCENT_EM = 1.0  # baseline below the box top, in font sizes


def pdf_words(pdf: Path) -> list[dict]:
    """Per page: {'width','height' (pt), 'lines': [[(x0, y0, x1, y1, text), …] per printed line]} from
    ``pdftotext -bbox-layout`` (poppler), in its reading order."""
    from lxml import etree

    raw = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, check=True).stdout
    root = etree.fromstring(raw, etree.XMLParser(recover=True, resolve_entities=False, no_network=True))
    local = lambda e: e.tag.rsplit("}", 1)[-1] if isinstance(e.tag, str) else ""
    pages = []
    for page in root.iter():
        if local(page) != "page":
            continue
        lines = []
        for line in page.iter():
            if local(line) != "line":
                continue
            words = [(float(w.get("xMin")), float(w.get("yMin")), float(w.get("xMax")), float(w.get("yMax")), w.text or "")
                     for w in line if local(w) == "word" and (w.text or "").strip()]
            if words:
                lines.append(words)
        pages.append({"width": float(page.get("width")), "height": float(page.get("height")), "lines": lines})
    return pages


def _advances(text: str, width: float) -> list[float]:
    """Each character's advance (mm) in a run of the given printed width: full-width characters twice a
    half-width one's (LibreOffice's justified lines stretch both alike)."""
    import unicodedata

    weights = [1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55 for ch in text]
    unit = width / sum(weights)
    return [w * unit for w in weights]


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"


def _delta_x(advances: list[float], compress: bool) -> str:
    """GB/T 33190 DeltaX: the offsets between consecutive characters; "g N v" repeats v N times."""
    values = [_num(a) for a in advances[:-1]]
    if not compress:
        return " ".join(values)
    out, i = [], 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i]:
            j += 1
        out.append(f"g {j - i} {values[i]}" if j - i > 1 else values[i])
        i = j
    return " ".join(out)


def write_ofd(pdf: Path, out: Path, style: str, doc_id: str) -> int:
    """The PDF as an OFD package, the way a PDF→OFD converter writes one: OFD.xml → Doc_0/Document.xml →
    Doc_0/Pages/Page_N/Content.xml, positions in mm from the page's top left, one font resource.
    style "line": ofd:-prefixed elements, a TextObject per printed line (Boundary = the line's box), a
    TextCode per word run with X/Y relative to the Boundary and DeltaX compressed with "g";
    style "run": the namespace as default (no prefix), a TextObject per character run with its own
    Boundary, every DeltaX value written out. Returns the page count."""
    import hashlib
    import zipfile
    from xml.sax.saxutils import escape

    pages = pdf_words(pdf)
    pre = "ofd:" if style == "line" else ""
    decl = f'xmlns:ofd="{OFD_NS}"' if style == "line" else f'xmlns="{OFD_NS}"'
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    uid = 10  # object IDs unique in the document; 1..9 for resources
    page_xml = []
    for page in pages:
        objs = []
        uid += 1
        layer_id = uid
        for line in page["lines"]:
            if style == "line":
                groups = [line]
            else:
                groups = [[w] for w in line]
            for group in groups:
                x0 = min(w[0] for w in group) * PT_MM
                y0 = min(w[1] for w in group) * PT_MM
                x1 = max(w[2] for w in group) * PT_MM
                y1 = max(w[3] for w in group) * PT_MM
                size_pt = round((max(w[3] - w[1] for w in group) / BOX_EM) * 2) / 2
                size = size_pt * 25.4 / 72
                base = ASCENT_EM * size
                uid += 1
                codes = []
                for wx0, wy0, wx1, wy1, text in group:
                    adv = _advances(text, (wx1 - wx0) * PT_MM)
                    dx = _delta_x(adv, compress=style == "line")
                    attrs = f'X="{_num(wx0 * PT_MM - x0)}" Y="{_num(wy0 * PT_MM - y0 + base)}"'
                    if dx:
                        attrs += f' DeltaX="{dx}"'
                    codes.append(f"<{pre}TextCode {attrs}>{escape(text)}</{pre}TextCode>")
                fill = f'<{pre}FillColor Value="0 0 0"/>'
                objs.append(f'<{pre}TextObject ID="{uid}" Boundary="{_num(x0)} {_num(y0)} {_num(x1 - x0)} {_num(y1 - y0)}" '
                            f'Font="2" Size="{_num(size)}">{fill}{"".join(codes)}</{pre}TextObject>')
        layer = f'<{pre}Layer ID="{layer_id}" Type="Body">' + ("\n" if style == "line" else "").join(objs) + f"</{pre}Layer>"
        w_mm, h_mm = page["width"] * PT_MM, page["height"] * PT_MM
        page_xml.append(f'{head}<{pre}Page {decl}><{pre}Area><{pre}PhysicalBox>0 0 {_num(w_mm)} {_num(h_mm)}'
                        f'</{pre}PhysicalBox></{pre}Area><{pre}Content>{layer}</{pre}Content></{pre}Page>\n')
    w_mm, h_mm = pages[0]["width"] * PT_MM, pages[0]["height"] * PT_MM
    page_list = "".join(f'<{pre}Page ID="{uid + 1 + i}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages)))
    document = (f'{head}<{pre}Document {decl}><{pre}CommonData><{pre}MaxUnitID>{uid + len(pages)}</{pre}MaxUnitID>'
                f'<{pre}PageArea><{pre}PhysicalBox>0 0 {_num(w_mm)} {_num(h_mm)}</{pre}PhysicalBox></{pre}PageArea>'
                f'<{pre}PublicRes>PublicRes.xml</{pre}PublicRes></{pre}CommonData>'
                f'<{pre}Pages>{page_list}</{pre}Pages></{pre}Document>\n')
    public = (f'{head}<{pre}Res {decl} BaseLoc="Res"><{pre}Fonts>'
              f'<{pre}Font ID="2" FontName="{SERIF}" FamilyName="{SERIF}"/>'
              f'</{pre}Fonts></{pre}Res>\n')
    creator = "PDF2OFD" if style == "line" else "OFDConverter"
    ofd = (f'{head}<{pre}OFD {decl} Version="1.1" DocType="OFD"><{pre}DocBody><{pre}DocInfo>'
           f'<{pre}DocID>{hashlib.md5(doc_id.encode()).hexdigest()}</{pre}DocID>'
           f'<{pre}CreationDate>2025-01-01</{pre}CreationDate><{pre}Creator>{creator}</{pre}Creator>'
           f'<{pre}CreatorVersion>2.0</{pre}CreatorVersion></{pre}DocInfo>'
           f'<{pre}DocRoot>Doc_0/Document.xml</{pre}DocRoot></{pre}DocBody></{pre}OFD>\n')
    members = [("OFD.xml", ofd), ("Doc_0/Document.xml", document), ("Doc_0/PublicRes.xml", public)]
    members += [(f"Doc_0/Pages/Page_{i}/Content.xml", x) for i, x in enumerate(page_xml)]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 8, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    return len(pages)


def ofd_page_texts(path: Path) -> list[str]:
    """Normalised text of each OFD page (its TextCodes in document order), for the checks."""
    import zipfile
    from lxml import etree

    out = []
    with zipfile.ZipFile(path) as zf:
        names = sorted((n for n in zf.namelist() if n.endswith("Content.xml")),
                       key=lambda n: int(re.search(r"Page_(\d+)", n).group(1)))
        for n in names:
            root = etree.fromstring(zf.read(n))
            out.append(norm("".join(e.text or "" for e in root.iter() if isinstance(e.tag, str) and e.tag.endswith("TextCode"))))
    return out


# ----------------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------------

CLAUSE_SEP = "，；。：、（）:;,"


def _pick_clause(text: str, from_end: bool, whole_edge: bool) -> str | None:
    """A whole clause of text, nearest the page boundary (the last one when from_end, else the
    first) and 6-20 characters long where one is (else the nearest, cut to 16); the clause cut by the
    page boundary (at the end of the part before it, the start of the part after it) is skipped
    unless whole_edge."""
    parts = re.split("[" + CLAUSE_SEP + "]", text)
    if not whole_edge:
        parts = parts[:-1] if from_end else parts[1:]
    parts = [x for x in parts if len(x) >= 6]
    if from_end:
        parts = parts[::-1]
    if not parts:
        return None
    short = [x for x in parts[:3] if len(x) <= 20]
    if short:
        return short[0]
    return parts[0][-16:] if from_end else parts[0][:16]


def make(out: Path, variant: str) -> dict:
    notice, report, law = VARIANTS[variant]
    out.mkdir(parents=True, exist_ok=True)
    questions: list[dict] = []
    verify: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="mkrealdocs-") as tmp:
        tmp = Path(tmp)
        profile = tmp / "profile"
        # the notice with 0..7 blank lines before the title (and, if need be, 1..3 lines of space
        # before the table), eight layouts per soffice call; the first layout where >= 2 candidate
        # sentences cross a page boundary is kept
        lay = tmp / "layouts"
        lay.mkdir()
        law_docx = tmp / "law.docx"
        law_title, articles = build_law(law, law_docx)
        texts, chosen = None, None
        for gap in range(4):
            docs = []
            for pad in range(8):
                p = lay / f"notice_{gap}_{pad}.docx"
                t = build_notice(notice, p, pad, gap)
                texts = texts or t
                docs.append(p)
            to_pdf(docs + ([law_docx] if gap == 0 else []), lay, profile)
            for pad in range(8):
                pdf = lay / f"notice_{gap}_{pad}.pdf"
                pages = page_texts(pdf, notice["header"])
                hits = []
                for q, keys in notice["break_candidates"]:
                    para = next(x for x in texts if keys[0] in x)
                    sent = sentence_of(para, keys[0])
                    loc = crossing(pages, sent)
                    if loc and all(h[2] != sent for h in hits):  # one question per sentence
                        hits.append((q, keys, sent, loc, locate(pages, keys[0])))
                span = table_span(pages, notice)
                if notice.get("table_style", {}).get("must_cross_page") and not (span and span[1] > span[0]):
                    continue
                if len(hits) >= 2 and len(pages) >= 3:
                    chosen = ((gap, pad), pdf, pages, hits, span)
                    break
            if chosen:
                break
        if chosen is None:
            raise RuntimeError("no layout puts two candidate sentences across a page boundary")
        pad, pdf, pages, hits, table_pages = chosen
        shutil.copy(pdf.with_suffix(".docx"), out / "notice.docx")
        shutil.copy(pdf, out / "notice.pdf")
        # the notice as OFD, converted from the PDF's text boxes; its text must be the PDF's, page by page
        ofd_pages = write_ofd(out / "notice.pdf", out / "notice.ofd", OFD_STYLE[variant], f"notice-{variant}")
        # (pdftotext's plain text drops a hyphen that ends a line, as in 0000-|7654321: hyphens aside)
        dehyphen = lambda texts: [t.replace("-", "") for t in texts]
        if ofd_pages != len(pages) or dehyphen(ofd_page_texts(out / "notice.ofd")) != dehyphen(
                page_texts(out / "notice.pdf", None, keep_furniture=True)):
            raise RuntimeError("notice.ofd: pages or text differ from notice.pdf")
        # the notice as Word 97 too (users still send .doc): LibreOffice saves the same docx
        legacy = subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                                 "--convert-to", "doc", "--outdir", str(out), str(out / "notice.docx")],
                                capture_output=True, text=True, timeout=300)
        if not (out / "notice.doc").exists():
            raise RuntimeError(f"soffice did not save notice.doc: {legacy.stderr.strip()[-500:]}")
        notice_pages = len(pages)
        for q, keys, sent, loc, kloc in hits:
            questions.append({"file": "notice.pdf", "kind": "page_break", "question": q, "key_points": keys})
            verify.append(("notice.pdf", keys[0], sent, loc, kloc))
        for kind, q, keys in notice["questions"]:
            questions.append({"file": "notice.pdf", "kind": kind, "question": q, "key_points": keys})
        # every notice key point must be in the docx text and in the PDF's text
        joined_notice = norm("".join(texts))
        joined_pdf = "".join(pages)
        for q in questions:
            for k in q["key_points"]:
                if norm(k) not in joined_notice:
                    raise RuntimeError(f"key point not in notice text: {k}")
                if norm(k) not in joined_pdf:
                    print(f"WARNING: key point not found contiguous in notice.pdf text: {k}", file=sys.stderr)

        # scan
        scan_dir = tmp / "scan"
        scan_dir.mkdir()
        make_scan(out / "notice.pdf", out / "notice_scan.pdf", scan_dir, seed=SCAN[variant][0], angle=SCAN[variant][1])
        scan_text = subprocess.run(["pdftotext", str(out / "notice_scan.pdf"), "-"], capture_output=True, text=True).stdout
        if norm(scan_text.replace("\f", "")):
            raise RuntimeError("notice_scan.pdf has a text layer")

        # law
        shutil.copy(lay / "law.pdf", out / "law.pdf")
        law_pages = page_texts(out / "law.pdf", law_title)
        law_md = norm((LAWS / law["md"]).read_text(encoding="utf-8"))
        picked = []
        n = len(law_pages)
        for target in (n // 4, (2 * n) // 3):
            for art in articles:
                loc = crossing(law_pages, art["text"])
                if not loc or loc[0] < target:
                    continue
                if any(loc[0] == p[1][0] for p in picked):
                    continue
                joined = "".join(law_pages)
                s = joined.find(norm(art["text"]))
                cut = sum(len(p) for p in law_pages[: loc[0]]) - s
                t = norm(art["text"])
                before, after = t[len(art["num"]):cut], t[cut:]
                at_sep = bool(before) and before[-1] in CLAUSE_SEP
                k1 = _pick_clause(before, from_end=True, whole_edge=at_sep)
                k2 = _pick_clause(after, from_end=False, whole_edge=at_sep)
                if not k1 or not k2 or len(before) < 20 or len(after) < 20:
                    continue
                picked.append((art, loc, [k1, k2]))
                break
        if len(picked) < 2:
            raise RuntimeError("law: fewer than two articles cross a page boundary")
        for art, loc, keys in picked:
            questions.append({"file": "law.pdf", "kind": "page_break",
                              "question": f"{law['short']}{art['num']}是怎么规定的？", "key_points": keys})
            verify.append(("law.pdf", " / ".join(keys), art["text"], loc,
                           (locate(law_pages, keys[0])[0], locate(law_pages, keys[1])[0])))
        for kind, q, keys in law["plain"]:
            questions.append({"file": "law.pdf", "kind": kind, "question": q, "key_points": keys})
        for q in questions:
            if q["file"] == "law.pdf":
                for k in q["key_points"]:
                    if norm(k) not in law_md:
                        raise RuntimeError(f"key point not in law text: {k}")

        # report
        rtexts = build_report(report, out / "report.docx")
        rjoined = norm("".join(rtexts))
        for kind, q, keys in report["questions"]:
            for k in keys:
                if norm(k) not in rjoined:
                    raise RuntimeError(f"key point not in report: {k}")
            questions.append({"file": "report.docx", "kind": kind, "question": q, "key_points": keys})
        for name in report["names"]:
            if name not in rjoined:
                raise RuntimeError(f"name not in report: {name}")

    with (out / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for i, q in enumerate(questions, start=1):
            fh.write(json.dumps({"id": f"ho{variant}-{i:02d}", **q}, ensure_ascii=False) + "\n")
    expected = {
        "notice": {"doc_number": notice["doc_number_norm"], "doc_number_as_printed": notice["doc_number"],
                   "issuer": notice["issuer"], "issued_on": notice["issued_on"],
                   "title": "".join(notice["title_lines"]), "doc_type": "policy"},
        "report_names": report["names"],
        "report_masked_names": report["masked"],
        "running_headers": [h for h in (notice["header"], law_title) if h],
        "law_title": law_title,
        "notice_formats": ["notice.docx", "notice.doc", "notice.pdf", "notice.ofd", "notice_scan.pdf"],
        "pages": {"notice.pdf": notice_pages, "notice.ofd": ofd_pages,
                  "notice_scan.pdf": page_count(out / "notice_scan.pdf"), "law.pdf": len(law_pages)},
        "notice_layout": {"table_gap_lines": pad[0], "title_padding_lines": pad[1]},
        "notice_ofd_style": OFD_STYLE[variant],
        "notice_table_pages": list(table_pages) if table_pages else None,
    }
    (out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1), encoding="utf-8")
    return {"expected": expected, "verify": verify, "questions": questions, "table_pages": table_pages}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="a")
    args = ap.parse_args(argv)
    for tool in ("soffice", "pdftoppm", "pdftotext", "pdfinfo"):
        if not shutil.which(tool):
            print(f"missing {tool} (make system-deps)", file=sys.stderr)
            return 2
    res = make(args.out, args.variant)
    print(f"wrote {args.out}: pages {res['expected']['pages']}, {len(res['questions'])} questions")
    print("page-crossing key points (sentence pages; key point pages):")
    print(f"{'file':<11} {'pages':<7} {'key pages':<9} key point | sentence start … end")
    for file, key, sent, loc, kloc in res["verify"]:
        s = norm(sent)
        print(f"{file:<11} {loc[0]}->{loc[1]:<4} {str(kloc[0]) + '-' + str(kloc[1]):<9} {key} | {s[:14]}…{s[-12:]}")
    if res["table_pages"]:
        print(f"notice table: pages {res['table_pages'][0]}-{res['table_pages'][1]}; "
              f"notice.ofd: {res['expected']['notice_ofd_style']} style, {res['expected']['pages']['notice.ofd']} pages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
