from optimiser.parsing import parse_resume
from optimiser.render import to_markdown
from optimiser.resume import Resume, Work


def _work(resume: Resume) -> list[tuple]:
    return [(w.name, w.position, w.startDate, w.endDate, w.highlights) for w in resume.work]


def test_rendered_markdown_parses_back_to_the_same_work_entries(example_resume):
    back = parse_resume(to_markdown(example_resume))
    assert _work(back) == _work(example_resume)


def test_rendered_markdown_keeps_name_label_and_education(example_resume):
    back = parse_resume(to_markdown(example_resume))
    assert back.basics.name == example_resume.basics.name
    assert back.basics.label == example_resume.basics.label
    assert [(e.institution, e.studyType, e.area, e.endDate) for e in back.education] == [
        (e.institution, e.studyType, e.area, e.endDate) for e in example_resume.education]


def test_layout_of_a_role(john_doe):
    md = to_markdown(john_doe)
    assert md.startswith("# John Doe\n")
    assert "john.doe@example.com | (123) 456-7890 | linkedin.com/in/johndoe" in md
    assert "### Senior Software Engineer — Tech Innovations Inc.\n*2020-01 – Present | San Francisco, CA*" in md
    assert "- Mentored junior developers and conducted code reviews." in md
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections[:4] == ["## Summary", "## Skills", "## Experience", "## Education"]


def test_skill_groups_render_as_bold_name_and_keywords(john_doe):
    assert "- **Programming Languages**: Python, JavaScript" in to_markdown(john_doe)


def test_role_without_title_keeps_its_employer():
    resume = Resume(basics={"name": "Ann Lee"}, work=[Work(name="Acme", startDate="2020", highlights=["Did X"])])
    back = parse_resume(to_markdown(resume))
    assert _work(back) == [("Acme", None, "2020", None, ["Did X"])]


def test_empty_sections_are_not_rendered():
    md = to_markdown(Resume(basics={"name": "Ann Lee", "summary": "Analyst."}))
    assert md == "# Ann Lee\n\n## Summary\n\nAnalyst.\n"
