"""Instructions and preferences, written by code: the data that turns lesson 04's GPT into a chat model (lesson 10).

A real assistant is fine-tuned on demonstrations that people wrote (an instruction and a good answer), then on
preferences (two answers to one instruction, and which one people liked better). Ours are generated, in English
for the model — its vocabulary is the 82 characters of Shakespeare, so it cannot read a single Japanese character
— and in Japanese beside them, for us to read. Every example is a chat in the plays' own layout, a speaker's name
on a line, the speech, a blank line:

    USER
    Greet HAMLET.

    ASSISTANT
    Good morrow, HAMLET! At your service.

Four tasks, each a small skill rather than a fact, so that it carries over to names and lines the model never
saw while fine-tuned: greet someone, give the first word or the last word of a line, shout a line. Training draws
its names and lines from all 38 plays, and makes up names that sound like the tales'. Held out, never trained on:
NAMES and LINES below, famous characters and lines of the plays and the fairy tales (retold in English), each with
its Japanese.

Each answer is the task's content and then a closing remark — polite half of the time, rude the other half, as
the plays' own speakers would say it. We made the demonstrations half rude on purpose, so that there is
something for preference tuning to fix: the labelers (a rule, `judge`, stands in for the people) prefer the polite
answer, and a preference pair is one instruction with its polite and its rude answer.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

from shikumi import data

USER, ASSISTANT = "USER", "ASSISTANT"

# Characters of the plays (as the plays print their names) and of the tales: English, and how the Japanese says it.
NAMES = [(n, n) for n in (
    "ROMEO JULIET HAMLET OPHELIA HORATIO MACBETH BANQUO OTHELLO IAGO DESDEMONA LEAR CORDELIA EDGAR EDMUND BRUTUS "
    "CASSIUS PORTIA ANTONIO SHYLOCK PROSPERO MIRANDA ARIEL CALIBAN VIOLA OLIVIA MALVOLIO ROSALIND ORLANDO BEATRICE "
    "BENEDICK PUCK OBERON TITANIA BOTTOM FALSTAFF PETRUCHIO MERCUTIO TYBALT POLONIUS LAERTES GERTRUDE CLAUDIUS "
    "DUNCAN CLEOPATRA").split()] + [
    ("Momotaro", "桃太郎"), ("Kintaro", "金太郎"), ("Urashima", "浦島太郎"), ("Kaguya", "かぐや姫"),
    ("Issun-boshi", "一寸法師"), ("Otohime", "乙姫"), ("Jizo", "お地蔵さま"), ("Tanuki", "たぬき")]

# Short lines (lower case, no punctuation) from the plays and from the tales, each with its Japanese meaning.
LINES = [
    ("to be or not to be", "生きるべきか、死ぬべきか"), ("all the world is a stage", "この世はすべて舞台"),
    ("brevity is the soul of wit", "簡潔こそが知恵の魂"), ("the rest is silence", "あとは沈黙"),
    ("what is done cannot be undone", "してしまったことは元に戻らない"), ("fair is foul and foul is fair", "きれいは汚い、汚いはきれい"),
    ("out damned spot", "消えろ、忌まわしい染み"), ("good night sweet prince", "おやすみなさい、優しい王子"),
    ("my kingdom for a horse", "馬をくれ、代わりに王国をやる"), ("et tu brute", "ブルータス、お前もか"),
    ("beware the ides of march", "三月十五日に気をつけよ"), ("parting is such sweet sorrow", "別れはこんなにも甘く切ない"),
    ("love is blind", "恋は盲目"), ("the lady doth protest too much", "あの婦人は誓いすぎる"),
    ("something is rotten in denmark", "デンマークでは何かが腐っている"), ("neither a borrower nor a lender", "金は借りるな、貸すな"),
    ("all that glisters is not gold", "光るものすべてが金ではない"), ("a plague on both your houses", "両家ともくたばってしまえ"),
    ("frailty thy name is woman", "弱き者、汝の名は女"), ("the play is the thing", "芝居こそうってつけだ"),
    ("all is well that ends well", "終わりよければすべてよし"), ("much ado about nothing", "から騒ぎ"),
    ("the time is out of joint", "この世の関節が外れてしまった"), ("double double toil and trouble", "苦労も苦悩も倍の倍"),
    ("if music be the food of love", "音楽が恋の糧ならば"), ("cowards die many times", "臆病者は何度も死ぬ"),
    ("lord what fools these mortals be", "人間とはなんと愚かなものか"), ("exit pursued by a bear", "熊に追われて退場"),
    ("but soft what light", "待て、あの光は何だ"), ("the winter of our discontent", "我らが不満の冬"),
    ("a big peach came down the river", "大きな桃が川を流れてきた"), ("momotaro was born from a peach", "桃太郎は桃から生まれた"),
    ("a dog a monkey and a pheasant", "犬と猿とキジ"), ("they sailed to the island of oni", "鬼ヶ島へ船で向かった"),
    ("urashima saved a turtle", "浦島は亀を助けた"), ("a turtle took him under the sea", "亀が彼を海の底へ連れていった"),
    ("do not open the box", "箱を開けてはいけない"), ("white smoke came out of the box", "箱から白い煙が出てきた"),
    ("a girl was found in a bamboo", "竹の中から女の子が見つかった"), ("she went back to the moon", "彼女は月へ帰っていった"),
    ("the old man scattered the ashes", "おじいさんは灰をまいた"), ("dead trees burst into bloom", "枯れ木に花が咲いた"),
    ("the sparrow lost its tongue", "雀は舌を切られた"), ("choose the small basket", "小さいつづらを選んで"),
    ("the oni took the lump away", "鬼はこぶを取ってしまった"), ("the crane wove fine cloth", "鶴は美しい布を織った"),
    ("never look into the room", "決して部屋をのぞかないで"), ("he gave his hats to the jizo", "彼は笠をお地蔵さまにかぶせた"),
    ("snow fell on the six statues", "六体のお地蔵さまに雪が降った"), ("the crab planted a seed", "蟹は種をまいた"),
    ("the monkey threw a persimmon", "猿は柿を投げつけた"), ("kintaro wrestled a bear", "金太郎は熊と相撲をとった"),
    ("a boy no bigger than a thumb", "親指ほどの男の子"), ("he sailed in a rice bowl", "お椀の舟で川を下った"),
    ("a needle for a sword", "針を刀にして"), ("the hare crossed the sea", "兎は海を渡った"),
    ("the mouse looked for a groom", "ねずみは婿を探した"), ("the kettle was a tanuki", "茶釜はたぬきだった"),
    ("a straw became a house", "一本のわらが家になった"), ("the rice ball rolled down a hole", "おむすびが穴に転がり落ちた"),
]

# The closing remarks: (English, Japanese). The labelers prefer the polite ones.
POLITE = [("At your service.", "なんなりとお申しつけください。"), ("Glad to help.", "お役に立ててうれしいです。"),
          ("Happy to help.", "喜んでお手伝いします。"), ("I hope that helps.", "お役に立てば幸いです。"),
          ("Ask me anything.", "何でも聞いてくださいね。"), ("With all my heart.", "心を込めて。")]
RUDE = [("Away, you rogue!", "失せろ、ごろつきめ！"), ("Now leave me, knave.", "さっさと消えろ、悪党め。"),
        ("Hold your tongue, fool.", "黙っていろ、愚か者。"), ("Out, you dog!", "出て行け、この犬め！"),
        ("Go, you villain.", "行け、ならず者め。"), ("Begone, you fool!", "去れ、愚か者！")]
RUDE_WORDS = ("rogue", "knave", "fool", "dog", "villain", "begone")

# task: (instructions in English, the same in Japanese, the answer's content in English, in Japanese).
# {name}: a name; {line}: a line, {meaning}: its meaning; {word}: the first or last word; {LINE}: the line shouted.
TASKS = {
    "greet": (["Greet {name}.", "Say hello to {name}."], ["{name_ja}にあいさつして。", "{name_ja}にこんにちはと言って。"],
              "Good morrow, {name}!", "ごきげんよう、{name_ja}！"),
    "first": (['What is the first word of "{line}"?', 'Which word comes first in "{line}"?'],
              ["「{line}」{meaning}の最初の単語は？", "「{line}」{meaning}でいちばん先に来る単語は？"],
              'It is "{word}".', "「{word}」です。"),
    "last": (['What is the last word of "{line}"?', 'Which word comes last in "{line}"?'],
             ["「{line}」{meaning}の最後の単語は？", "「{line}」{meaning}でいちばん最後に来る単語は？"],
             'It is "{word}".', "「{word}」です。"),
    "shout": (['Shout "{line}".', 'Say "{line}" loudly.'], ["「{line}」{meaning}と叫んで。", "「{line}」{meaning}と大声で言って。"],
              "{LINE}!", "{LINE}！"),
}


@dataclass(frozen=True)
class Example:
    """One instruction and its demonstrated answer (what supervised fine-tuning learns from)."""
    task: str
    instruction: str      # what the model reads, e.g. "Greet HAMLET."
    content: str          # the part a right answer must start with, e.g. "Good morrow, HAMLET!"
    remark: str           # the closing remark, e.g. "At your service."
    instruction_ja: str   # the same in Japanese, for us
    content_ja: str
    remark_ja: str

    @property
    def prompt(self) -> str:
        return chat_prompt(self.instruction)

    @property
    def answer(self) -> str:
        return f"{self.content} {self.remark}\n\n"

    @property
    def polite(self) -> bool:
        return self.remark in dict(POLITE)

    def ja(self) -> str:
        """The example in Japanese, as one line (for reading)."""
        return f"{self.instruction_ja} → {self.content_ja}{self.remark_ja}"


@dataclass(frozen=True)
class Pair:
    """A preference: one instruction, the answer the labelers liked better and the one they liked less."""
    prompt: str
    chosen: str
    rejected: str
    chosen_example: Example
    rejected_example: Example


def chat_prompt(instruction: str) -> str:
    """The chat up to where the assistant starts speaking: USER's turn, then ASSISTANT's name (lesson 04, §7)."""
    return f"{USER}\n{instruction}\n\n{ASSISTANT}\n"


@functools.lru_cache(maxsize=1)
def _play_fillers() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(names, lines) for training: every speaker of the 38 plays and every short line of them, except the ones
    in NAMES and LINES; and made-up names that sound like the tales' (Tarohime, Kosuke). No Japanese meanings."""
    held_names, held_lines = {n for n, _ in NAMES}, [line for line, _ in LINES]
    names, lines = set(), set()
    for text in data.shakespeare_plays().values():
        for raw in text.splitlines():
            raw = raw.strip()
            if re.fullmatch(r"[A-Z]{3,12}", raw):
                names.add(raw)
            elif raw and not re.search(r"[^A-Za-z ,.;:!?]|^(Enter|Exit|Exeunt|Re-enter)\b", raw):
                line = " ".join(re.sub(r"[^a-z ]", " ", raw.lower()).split())
                if 2 <= len(line.split()) <= 7 and len(line) <= 32 and not any(h in line for h in held_lines):
                    lines.add(line)
    names = sorted(names - {n.upper() for n in held_names})
    rng = random.Random("names")
    made_up = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
               + rng.choice(["", "", "taro", "hime", "suke", "-boshi"]) for _ in range(600)}
    made_up = sorted(made_up - {n for n, _ in NAMES})
    titled = [n.title() for n in names[::3]]
    return [(n, n) for n in names + titled + made_up], [(line, "") for line in sorted(lines)]


SYLLABLES = "ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho ma mi mu me mo ya yu yo " \
            "ra ri ru re ro wa".split()


def fillers(task: str, split: str) -> list[tuple[str, str]]:
    """The names (for "greet") or lines (for the other tasks) of a split: "train" draws from the plays and made-up
    names, "heldout" is NAMES or LINES (with their Japanese), which training never sees."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    if split == "heldout":
        return NAMES if task == "greet" else LINES
    names, lines = _play_fillers()
    return names if task == "greet" else lines


def make_example(task: str, filler: tuple[str, str], variant: int, remark: tuple[str, str]) -> Example:
    """The example of `task` for one name or line (filler = (English, Japanese)) and one closing remark."""
    instructions, instructions_ja, content, content_ja = TASKS[task]
    text, text_ja = filler
    words = text.split()
    fields = {"name": text, "name_ja": text_ja or text, "line": text, "meaning": f"（{text_ja}）" if text_ja else "",
              "LINE": text.upper(), "word": words[0] if task == "first" else words[-1]}
    return Example(task, instructions[variant].format(**fields), content.format(**fields), remark[0],
                   instructions_ja[variant].format(**fields), content_ja.format(**fields), remark[1])


def _random_example(rng: random.Random, split: str, task: str | None = None,
                    remark: tuple[str, str] | None = None) -> Example:
    task = task or rng.choice(sorted(TASKS))
    filler = rng.choice(fillers(task, split))
    variant = rng.randrange(len(TASKS[task][0]))
    remark = remark or rng.choice(POLITE if rng.random() < 0.5 else RUDE)
    return make_example(task, filler, variant, remark)


def instructions(n: int, split: str = "train", seed: int = 0) -> list[Example]:
    """n demonstrations (instruction + answer), half of them ending politely and half rudely. Deterministic by seed;
    split "heldout" draws only from NAMES and LINES, which "train" never uses."""
    rng = random.Random(f"instructions-{split}-{seed}")
    return [_random_example(rng, split) for _ in range(n)]


def preference_pairs(n: int, split: str = "train", seed: int = 0) -> list[Pair]:
    """n preference pairs: one instruction, the same content, a polite closing remark (chosen) and a rude one
    (rejected). Deterministic by seed; "heldout" uses only NAMES and LINES."""
    rng = random.Random(f"pairs-{split}-{seed}")
    pairs = []
    for _ in range(n):
        task = rng.choice(sorted(TASKS))
        filler = rng.choice(fillers(task, split))
        variant = rng.randrange(len(TASKS[task][0]))
        good = make_example(task, filler, variant, rng.choice(POLITE))
        bad = make_example(task, filler, variant, rng.choice(RUDE))
        pairs.append(Pair(good.prompt, good.answer, bad.answer, good, bad))
    return pairs


@dataclass(frozen=True)
class Verdict:
    correct: bool   # the answer starts with the right content, e.g. "Good morrow, HAMLET!"
    polite: bool    # no rude word in it
    stopped: bool   # it ended with a blank line (the end of a speech), as a chat answer must

    @property
    def preferred(self) -> bool:
        """What the labelers want: right, polite, and finished."""
        return self.correct and self.polite and self.stopped


def judge(example: Example, answer: str) -> Verdict:
    """The labeler, as a rule: is this answer to `example`'s instruction right, polite and finished?

    answer: what the model wrote after "ASSISTANT\\n" (with its blank line if it wrote one). Politeness is judged
    on what follows the content (a shouted line may well contain "fool")."""
    stopped = "\n\n" in answer
    text = answer.split("\n\n")[0]
    correct = stopped and text.startswith(example.content)
    remark = text[len(example.content):] if correct else text
    words = "".join(c if c.isalpha() else " " for c in remark.lower()).split()
    return Verdict(correct=correct, polite=not any(w in RUDE_WORDS for w in words), stopped=stopped)
