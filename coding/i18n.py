"""The words people read while reviewing — the review page and the Excel review sheet — in
Japanese (the default: the researchers who review are Japanese) and in English.

The language is the codebook's ``lang`` (``ja`` or ``en``) unless a command's ``--lang`` says
otherwise. Only what is shown changes: codings, offsets and file formats are the same in both, and
an imported sheet may use the decision words and column names of either language (a sheet
exported in English before Japanese was the default still imports).
"""
from __future__ import annotations

import re
from typing import Literal, Mapping

from .errors import OptionError

Lang = Literal["ja", "en"]
LANGS: tuple[str, ...] = ("ja", "en")
DEFAULT: Lang = "ja"


def resolve(lang: str | None, default: str = DEFAULT) -> str:
    """The language to show: ``lang`` when given, else ``default`` (the codebook's)."""
    chosen = lang or default
    if chosen not in LANGS:
        raise OptionError(f"unknown language '{chosen}' (one of {', '.join(LANGS)})")
    return chosen


# ---------------------------------------------------------------- codes
KIND_NAMES: Mapping[str, Mapping[str, str]] = {
    "ja": {"phase": "交渉段階", "theme": "テーマ", "finding": "所見", "challenge": "課題", "practice": "プラクティス",
           "case": "事例", "group": "グループ"},
    "en": {"phase": "phase", "theme": "theme", "finding": "finding", "challenge": "challenge", "practice": "practice",
           "case": "case", "group": "group"},
}

# what a coder decided, as the page and a compare sheet show it
STATUS_NAMES: Mapping[str, Mapping[str, str]] = {
    "ja": {"pending": "未判断", "accepted": "採用", "manual": "追加", "rejected": "不採用", "coded": "コード付与",
           "suggested": "提案"},
    "en": {"pending": "pending", "accepted": "accepted", "manual": "manual", "rejected": "rejected", "coded": "coded",
           "suggested": "suggested"},
}


def kind_name(kind: str, lang: str) -> str:
    """A code kind as people read it (a project's own kinds as written)."""
    return KIND_NAMES[lang].get(kind, kind)


# ---------------------------------------------------------------- the review sheet
SHEETS: Mapping[str, Mapping[str, str]] = {
    "ja": {"review": "レビュー", "codes": "コード一覧", "howto": "手順"},
    "en": {"review": "review", "codes": "codes", "howto": "howto"},
}

COLUMN_NAMES: Mapping[str, Mapping[str, str]] = {
    "ja": {"transcript_id": "記録ID", "org": "組織", "start": "開始位置", "end": "終了位置", "segment": "該当文",
           "paragraph": "段落", "code_id": "コードID", "label": "コード名", "definition": "定義", "matched": "一致した語",
           "score": "確信度", "check": "確認", "decision": "判断", "quote": "引用", "memo": "メモ", "kind": "種類",
           "parent": "上位コード"},
    "en": {name: name for name in ("transcript_id", "org", "start", "end", "segment", "paragraph", "code_id", "label",
                                   "definition", "matched", "score", "check", "decision", "quote", "memo", "kind",
                                   "parent")},
}


def column_of(header: str) -> str | None:
    """The column a header cell names, in either language (None for a column of neither)."""
    h = header.strip()
    for names in COLUMN_NAMES.values():
        for col, shown in names.items():
            if h == shown:
                return col
    return None


ACCEPT_WORD = {"ja": "採用", "en": "accept"}
REJECT_WORD = {"ja": "不採用", "en": "reject"}
DROP_WORD = {"ja": "削除", "en": "drop"}
YES_WORD = {"ja": "はい", "en": "yes"}
CHANGE_WORD = {"ja": "変更 → ", "en": "change to "}

# Decision cells of either language: 採用 / accept, 不採用 / reject, 変更 → <code> / change to <code>,
# and on a row marked in the check column 削除 / drop
ACCEPT_WORDS = ("accept", "accepted", "採用", "採択")
REJECT_WORDS = ("reject", "rejected", "不採用", "却下")
DROP_WORDS = ("drop", "削除")
CHANGE_RE = re.compile(r"^\s*(?:change\s+to|変更)\s*(?:→|->|⇒|＞|>)?\s*[:：]?\s*(.+?)\s*$", re.I)
YES_WORDS = ("yes", "y", "true", "1", "x", "○", "◯", "〇", "はい", "引用")


def change_choice(code_id: str, label: str, lang: str) -> str:
    """The drop-down entry that changes a suggestion to ``code_id``: ``change to 課題⑫`` in
    English; in Japanese with the code's label, so the list says what each code means
    (``変更 → 課題⑫ 専門人材の不足``; an import reads the id and ignores the label)."""
    if lang == "en" or not label or label == code_id:
        return f"{CHANGE_WORD[lang]}{code_id}"
    short = label if len(label) <= 40 else label[:39] + "…"
    return f"{CHANGE_WORD[lang]}{code_id} {short}"


DECISION_HELP = {
    "ja": "採用・不採用・変更 → <コードID>",
    "en": "accept, reject or change to <code id>",
}
DECISION_HELP_CHECK = {  # on a row marked in the check column
    "ja": "採用・不採用・削除・変更 → <コードID>",
    "en": "accept, reject, drop or change to <code id>",
}

# The check column of a coder's sheet: what happened to a decision since it was made. The cell
# begins with one of these words (an import reads the row's kind from them, in either language),
# then what was decided.
CHECK_WORDS: Mapping[str, Mapping[str, str]] = {
    "ja": {"recheck": "語句が編集されました", "several": "同じ語句が記録の複数の箇所にあります",
           "stale": "箇所が見つかりません"},
    "en": {"recheck": "words edited since the decision", "several": "the same words occur in several places",
           "stale": "passage gone"},
}
CHECK_WAS = {"ja": "（元: {was}）", "en": " (was: {was})"}
CHECK_DECIDED = {"ja": "。前の判断: {status}", "en": "; decided: {status}"}


def check_text(kind: str, was: str, status: str, lang: str) -> str:
    """The check cell of a decision to re-check (``recheck``; ``was``: its words before the
    edit, empty when its words occur in several places) or whose passage is gone (``stale``)."""
    words = CHECK_WORDS[lang]
    if kind == "stale":
        head = words["stale"]
    elif was:
        head = words["recheck"] + CHECK_WAS[lang].format(was=was)
    else:
        head = words["several"]
    return head + CHECK_DECIDED[lang].format(status=STATUS_NAMES[lang].get(status, status))


def check_kind(cell: str) -> str | None:
    """``recheck`` or ``stale`` for a check cell of either language, None for an empty or other one."""
    text = cell.strip()
    for words in CHECK_WORDS.values():
        if text.startswith(words["stale"]):
            return "stale"
        if text.startswith((words["recheck"], words["several"])):
            return "recheck"
    return None


VALIDATION = {  # the decision drop-down's prompt and error (Excel: title ≤ 32, text ≤ 255 characters)
    "ja": {"input_title": "判断", "input_message": "採用 / 不採用 / 変更 → <コード>。空欄のままなら後で判断します。",
           "error_title": "判断の値ではありません", "error_message": "一覧から 採用・不採用・変更 → <コード> を選んでください。",
           "code_message": "追加するコード（記録IDと、該当文に記録の語句をそのまま入れてください）",
           "input_message_check": "採用 / 不採用 / 変更 → <コード>。「確認」に印のある行は 削除 も選べます。"
                                  "空欄のままなら後で判断します。",
           "error_message_check": "一覧から 採用・不採用・削除・変更 → <コード> を選んでください。"},
    "en": {"input_title": "decision", "input_message": "accept / reject / change to <code id>; empty = decide later",
           "error_title": "Not a decision", "error_message": "Choose accept, reject or change to <code id> from the list.",
           "code_message": "the code to add (with transcript_id and the exact words in segment)",
           "input_message_check": "accept / reject / change to <code id>; drop (rows marked in check); "
                                  "empty = decide later",
           "error_message_check": "Choose accept, reject, drop or change to <code id> from the list."},
}

HOWTO: Mapping[str, tuple[str, ...]] = {
    "ja": (
        "レビューの手順",
        "",
        "「レビュー」シートの各行は、インタビュー記録の一文（該当文）に提案されたコードです。",
        "該当文（一致した語は赤字）、段落、コード名と定義を読み、「判断」列で次のどれかを選んでください。",
        "  採用 — このコードが当てはまる",
        "  不採用 — 当てはまらない",
        "  変更 → <コード> — 別のコードが当てはまる（一覧から選びます）",
        "「判断」が空欄の行は未判断のまま残り、次に書き出すシートにもう一度出てきます。",
        "タガーが見落としたコードを追加するには、最終行の下に行を足し、記録ID、該当文（記録の語句をそのままコピーし、"
        "記録の中で一度だけ現れる長さにします）、コードID（一覧から選べます）を入れます。",
        "開始位置と終了位置は空欄のままにします。手動のコーディングとして取り込まれます。",
        "「引用」を「はい」にすると、その文を表の引用に使います。「メモ」は自由に書けます。",
        "",
        "コーダーを指定して書き出したシートでは、前に判断した箇所の記録が編集された行が先頭に並び、「確認」列に何が起きたかが書かれています"
        "（「引用」「メモ」には前の判断の値が入っています）。",
        "  語句が編集されました（元: …）— 判断した語句が書き換えられ、今の語句に付け直してあります（該当文は今の語句です）。"
        "採用・不採用・変更で今の語句について判断し直すか、削除を選びます。",
        "  同じ語句が記録の複数の箇所にあります — この箇所でよいかを確かめて、同じように判断し直します。",
        "  箇所が見つかりません — 判断した語句が記録から消えました。今の記録で当てはまる語句を該当文にそのまま書き"
        "（記録の中で一度だけ現れる長さにします）、採用・不採用・変更を選ぶと、その語句に判断を付け直します。",
        "  削除 — 「確認」列に印のある行だけで選べます。その判断をコーダーのファイルから取り除きます。",
        "空欄のままの行は、次に書き出すシートにもう一度出てきます。",
        "",
        "記録ID・開始位置・終了位置・該当文・コードID の列は書き換えないでください（「箇所が見つかりません」の行の該当文は除きます）。",
        "英語の語（accept / reject / change to <code id> / drop）でも取り込めます。",
        "記入が終わったら：python cli.py import review このファイル.xlsx --coder あなたの名前",
    ),
    "en": (
        "How to review",
        "",
        "Each row of the 'review' sheet is a code suggested for a segment (a sentence) of an interview.",
        "Read the segment (matched words in red), its paragraph and the code's label and definition, then choose in "
        "'decision':",
        "  accept — the code applies",
        "  reject — it does not",
        "  change to <code id> — another code applies instead",
        "Leave 'decision' empty to decide later: the row stays pending.",
        "To add a code the tagger missed, add a row below the last one: transcript_id, the exact words of the transcript "
        "in 'segment' (copied so they occur once), the code in 'code_id'; leave start and end empty.",
        "It is imported as a manual coding.",
        "'quote' = yes marks the segment as a quote for the tables; 'memo' is free text.",
        "",
        "In a sheet written for a coder, rows whose passage was edited since that coder decided on it come first; "
        "'check' says what happened ('quote' and 'memo' hold the earlier decision's).",
        "  words edited since the decision (was: …) — the decision was re-attached to the words as they now read "
        "('segment'): accept, reject or change to decide on them again, or drop.",
        "  the same words occur in several places — make sure this is the right place, then decide again.",
        "  passage gone — the words are no longer in the transcript: write in 'segment' the words as they now read "
        "(copied exactly, so they occur once) and accept, reject or change to put the decision on them.",
        "  drop — only on rows marked in 'check': removes that decision from the coder's file.",
        "Rows left empty come back in the next sheet.",
        "",
        "Do not edit the columns transcript_id, start, end, segment or code_id (except 'segment' in a 'passage gone' row).",
        "The Japanese words (採用 / 不採用 / 変更 → <code id> / 削除) are read as well.",
        "Then: python cli.py import review THIS_FILE.xlsx --coder YOUR_NAME",
    ),
}


# ---------------------------------------------------------------- the review page
# {name} is filled in by the page.
PAGE: Mapping[str, Mapping[str, str]] = {
    "ja": {
        "title": "レビュー",
        "coder": "コーダー",
        "keys": "キー一覧",
        "loading": "読み込み中…",
        "transcripts": "記録",
        "pending_total": "全体の未判断 {n} 件",
        "where": "{id} · {i}/{n} · この記録の未判断 {p} 件 · {order}",
        "by_score": "確信度順",
        "by_position": "本文順",
        "order_score": "並び順：確信度の高い提案から",
        "order_position": "並び順：本文の順",
        "picker": "コードを選ぶ",
        "picker_placeholder": "ID・コード名・定義・語句で探す（課題⑧、人材、料率 …）",
        "picker_hint": "<kbd>↑</kbd><kbd>↓</kbd> 移動 · <kbd>Enter</kbd> 決定 · <kbd>Esc</kbd> やめる",
        "picker_definition": "定義",
        "picker_phrase": "語句",
        "memo": "メモ",
        "memo_hint": "<kbd>Enter</kbd> 保存 · <kbd>Shift</kbd>+<kbd>Enter</kbd> 改行 · <kbd>Esc</kbd> やめる",
        "help": "キー操作",
        "help_j": "次のコーディング（<kbd>↓</kbd>）",
        "help_k": "前のコーディング（<kbd>↑</kbd>）",
        "help_n": "次の未判断の提案か要確認の判断（この記録になければ次の記録へ）",
        "help_o": "並び順：確信度の高い順 ⇄ 本文の順",
        "help_a": "採用 — このコードが当てはまる",
        "help_r": "不採用 — 当てはまらない",
        "help_c": "別のコードに変更",
        "help_m": "選んだ語句（選んでいなければカーソル位置の文）にコードを追加",
        "help_q": "表に載せる引用にする／やめる",
        "help_e": "メモを書く",
        "help_brackets": "次の記録、<kbd>[</kbd> 前の記録",
        "help_help": "このヘルプ（<kbd>Esc</kbd> で閉じる）",
        "help_saved": "判断はキーを押したその時にコーダーのファイルへ保存されます。ウィンドウを閉じても失われません。",
        "keys_short": "<kbd>a</kbd> 採用 · <kbd>r</kbd> 不採用 · <kbd>c</kbd> 変更 · <kbd>m</kbd> 追加<br>"
                      "<kbd>j</kbd>/<kbd>k</kbd> 次/前 · <kbd>n</kbd> 次の未判断 · <kbd>q</kbd> 引用 · <kbd>e</kbd> メモ · "
                      "<kbd>]</kbd> 次の記録",
        "no_items": "この記録には提案がありません。語句を選んで <kbd>m</kbd> を押すとコードを追加できます。",
        "in_parent": "上位：{parent}",
        "decision": "判断",
        "quote": "引用",
        "suggested": "提案",
        "suggested_yes": "確信度 {score}",
        "matched": "一致：{words}",
        "suggested_no": "なし（人が付けたコーディング）",
        "saved": "保存しました：{rows} → {file}（{time}）",
        "not_saved": "保存できませんでした：{error}",
        "all_done": "未判断の提案も要確認の判断ももうありません。すべて判断済みです。",
        "select_first": "先に語句を選んでください",
        "change_title": "「{label}」を別のコードに変更",
        "add_title": "「{text}」にコードを追加",
        "memo_first": "先に採用するか追加してから、メモを書いてください",
        "ready": "準備完了 — 判断はその都度 {file} に保存されます",
        "cannot_load": "読み込めません：{error}",
        "quote_mark": "引用",
        "saved_quote": "（引用）",
        "checks_total": " · 要確認 {n} 件",
        "recheck": "要確認",
        "recheck_title": "判断の後で語句が編集されました",
        "recheck_was": "判断したときの語句：",
        "recheck_several": "同じ語句が記録の複数の箇所にあります。この箇所でよいか確かめてください。",
        "recheck_hint": "<kbd>a</kbd> 今の語句で採用 · <kbd>r</kbd> 不採用 · <kbd>d</kbd> この判断を削除",
        "help_d": "要確認の判断（語句が編集されたもの）を削除",
        "drop_only": "d で削除できるのは要確認の判断だけです",
        "recheck_first": "語句が編集された判断です。先に a（今の語句で採用）か r（不採用）で確かめてください",
        "stale_title": "箇所が見つからない判断（{n} 件）",
        "stale_hint": "判断した語句が記録から消えました。今の記録で当てはまる語句を選んで「選んだ語句に付け直す」を押すと、"
                      "同じ判断（引用・メモも）をその語句に付けます。",
        "drop": "削除",
        "reattach": "選んだ語句に付け直す",
        "dropped": "削除しました：{rows} → {file}（{time}）",
    },
    "en": {
        "title": "Review",
        "coder": "coder",
        "keys": "keys",
        "loading": "loading…",
        "transcripts": "transcripts",
        "pending_total": "{n} pending in all",
        "where": "{id} · {i}/{n} · {p} pending here · {order}",
        "by_score": "by score",
        "by_position": "by position",
        "order_score": "order: most confident first",
        "order_position": "order: position in the text",
        "picker": "Choose a code",
        "picker_placeholder": "type an id, words of the label or definition, or a phrase (課題⑧, 人材, 料率 …)",
        "picker_hint": "<kbd>↑</kbd><kbd>↓</kbd> move · <kbd>Enter</kbd> choose · <kbd>Esc</kbd> cancel",
        "picker_definition": "definition",
        "picker_phrase": "phrase",
        "memo": "Memo",
        "memo_hint": "<kbd>Enter</kbd> save · <kbd>Shift</kbd>+<kbd>Enter</kbd> new line · <kbd>Esc</kbd> cancel",
        "help": "Keys",
        "help_j": "next coding (<kbd>↓</kbd>)",
        "help_k": "previous coding (<kbd>↑</kbd>)",
        "help_n": "next pending suggestion or decision to re-check (then the next transcript with one)",
        "help_o": "order: most confident suggestion first ⇄ position in the text",
        "help_a": "accept — the code applies",
        "help_r": "reject — it does not",
        "help_c": "change to another code",
        "help_m": "add a code to the selected text (or to the sentence at the cursor)",
        "help_q": "mark / unmark as a quote for the tables",
        "help_e": "write a memo",
        "help_brackets": "next transcript, <kbd>[</kbd> previous",
        "help_help": "this help; <kbd>Esc</kbd> closes it",
        "help_saved": "Every decision is saved to the coder's file the moment you make it; closing the window loses nothing.",
        "keys_short": "<kbd>a</kbd> accept · <kbd>r</kbd> reject · <kbd>c</kbd> change · <kbd>m</kbd> add code<br>"
                      "<kbd>j</kbd>/<kbd>k</kbd> next/previous · <kbd>n</kbd> next pending · <kbd>q</kbd> quote · "
                      "<kbd>e</kbd> memo · <kbd>]</kbd> next transcript",
        "no_items": "No suggestions in this transcript. Select text and press <kbd>m</kbd> to add a code.",
        "in_parent": "in {parent}",
        "decision": "decision",
        "quote": "quote",
        "suggested": "suggested",
        "suggested_yes": "score {score}",
        "matched": "matched: {words}",
        "suggested_no": "no (a person's coding)",
        "saved": "saved {rows} → {file} at {time}",
        "not_saved": "not saved: {error}",
        "all_done": "nothing pending anywhere: all suggestions are decided, nothing to re-check",
        "select_first": "select some text first",
        "change_title": "Change {label} to …",
        "add_title": "Add a code to 「{text}」",
        "memo_first": "accept or add the coding first, then write its memo",
        "ready": "ready — decisions are saved to {file} as you make them",
        "cannot_load": "cannot load: {error}",
        "quote_mark": "quote",
        "saved_quote": " (quote)",
        "checks_total": " · {n} to re-check",
        "recheck": "re-check",
        "recheck_title": "the words were edited since the decision",
        "recheck_was": "the words when it was decided:",
        "recheck_several": "the same words occur in several places of the transcript: check this is the right one.",
        "recheck_hint": "<kbd>a</kbd> accept on the new words · <kbd>r</kbd> reject · <kbd>d</kbd> drop the decision",
        "help_d": "drop a decision to re-check (its words were edited)",
        "drop_only": "d drops only a decision to re-check",
        "recheck_first": "its words were edited: check it first (a accepts it on the new words, r rejects it)",
        "stale_title": "Decisions whose passage is gone ({n})",
        "stale_hint": "Their words are no longer in the transcript. Select the words as they now read and press "
                      "Re-attach to selection to put the same decision (quote and memo too) on them.",
        "drop": "Drop",
        "reattach": "Re-attach to selection",
        "dropped": "dropped {rows} from {file} at {time}",
    },
}


def page_text(lang: str) -> dict:
    """Everything the review page shows in ``lang``: its words, the kind and status names."""
    return {**PAGE[lang], "kinds": dict(KIND_NAMES[lang]), "statuses": dict(STATUS_NAMES[lang])}
