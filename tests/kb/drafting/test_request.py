"""Reading a request: kind, target, who talks to whom, interviewee."""
from kb.drafting import infer_kind, infer_roles, infer_speaker, infer_target


def test_infer_kind_and_target_from_one_sentence():
    assert infer_kind("为省委主要负责人与某市委书记开展党内政治监督谈话起草一份谈话提纲") == "talk"
    assert infer_kind("起草一份面向班子成员的深度访谈提纲") == "interview"
    assert infer_kind("政治担当") == ""
    assert infer_target("为省委主要负责人与某市委书记开展党内政治监督谈话起草一份谈话提纲") == "市委书记"
    assert infer_target("请起草一份向考察对象（县委书记）通报反馈考察结果的谈话提纲") == "县委书记"
    assert infer_target("对县纪委副书记等其他干部的补充访谈，核实县委主要负责人的担当") == "县委主要负责人"


def test_who_talks_to_whom_comes_from_the_request():
    assert infer_roles("县委书记与乡镇党委书记谈话，请起草谈话提纲") == ("县委书记", "乡镇党委书记")
    assert infer_roles("为省委主要负责人与某市委书记开展党内政治监督谈话起草一份谈话提纲") == ("省委主要负责人", "市委书记")
    assert infer_speaker("市委书记找县委书记谈话") == "市委书记"
    # no speaker named: feedback of inspection results is given by the inspection team
    assert infer_roles("请起草一份向考察对象（县委书记）通报反馈考察结果的谈话提纲")[0] == "考察组"
    assert infer_roles("与某县委书记开展党内政治监督谈话")[0] == "上级党委主要负责人"
