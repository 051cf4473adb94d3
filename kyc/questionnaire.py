"""The appropriateness questionnaire: knowledge and experience of CFDs and leverage."""

from django.conf import settings

# (key, question, [(answer key, label, points)])
QUESTIONS = [
    (
        "cfd_knowledge",
        "What happens to your position when a CFD's underlying price moves against you?",
        [
            ("loss", "I lose money, possibly more quickly because of leverage", 3),
            ("nothing", "Nothing until I close it", 0),
            ("unsure", "I am not sure", 0),
        ],
    ),
    (
        "leverage",
        "With 1:30 leverage, a 1% move against a position costs…",
        [
            ("30pct", "About 30% of the margin used", 3),
            ("1pct", "1% of the margin", 0),
            ("unsure", "I am not sure", 0),
        ],
    ),
    (
        "margin_call",
        "What is a margin call / stop-out?",
        [
            ("close", "Positions are closed when equity falls below the required margin", 3),
            ("bonus", "A bonus from the broker", 0),
            ("unsure", "I am not sure", 0),
        ],
    ),
    (
        "experience",
        "How often have you traded leveraged products in the last 2 years?",
        [("often", "More than 10 times", 3), ("some", "1 to 10 times", 2), ("never", "Never", 0)],
    ),
    (
        "education",
        "Do you have relevant education or professional experience in finance?",
        [("yes", "Yes", 2), ("no", "No", 0)],
    ),
]
MAX_POINTS = sum(max(points for _k, _l, points in options) for _q, _t, options in QUESTIONS)


def score(answers: dict) -> tuple[int, str]:
    """Points and outcome ("pass", "warn", "fail") for a complete set of answers."""
    total = 0
    for key, _text, options in QUESTIONS:
        points = {answer: pts for answer, _label, pts in options}
        if answers.get(key) not in points:
            raise KeyError(key)
        total += points[answers[key]]
    share = total / MAX_POINTS
    outcome = (
        "pass"
        if share >= settings.KYC_QUESTIONNAIRE_PASS
        else "warn"
        if share >= settings.KYC_QUESTIONNAIRE_WARN
        else "fail"
    )
    return total, outcome
