// The app's own question dialog (never window.confirm: it blocks the page, looks foreign and
// cannot be styled or tested): a title, what will happen, an optional hint, and two buttons.
// Every question asks before something that cannot be taken back, so "no" has the focus.
// While it is open it takes every key, so no shortcut (Delete removing beats, Space playing)
// reaches the timeline behind it; Escape or a click outside answers "no", Tab stays inside.

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export interface Question {
  title: string;
  message: string;
  hint?: string;
  /** The button that says yes ("Remove", "Relink anyway"). */
  yes: string;
  no?: string;
  /** Yes destroys something: a red button. */
  danger?: boolean;
}

let answer: ((yes: boolean) => void) | null = null;
let returnFocus: HTMLElement | null = null;
let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  $("ask-yes").onclick = () => close(true);
  $("ask-no").onclick = () => close(false);
  $("ask-modal").addEventListener("mousedown", (e) => {
    if (e.target === $("ask-modal")) close(false);
  });
  // Capturing on window: runs before the page's own keyboard handler (on document), which
  // then never sees the key. Enter and Space still press the focused button (not prevented).
  window.addEventListener(
    "keydown",
    (e) => {
      if (!answer) return;
      e.stopPropagation();
      if (e.key === "Escape") {
        e.preventDefault();
        close(false);
      } else if (e.key === "Tab") {
        const buttons = [$("ask-no"), $("ask-yes")];
        const at = buttons.indexOf(document.activeElement as HTMLElement);
        e.preventDefault();
        const next = at < 0 ? 0 : (at + (e.shiftKey ? buttons.length - 1 : 1)) % buttons.length;
        buttons[next].focus();
      }
    },
    true,
  );
}

function close(yes: boolean) {
  const done = answer;
  answer = null;
  $("ask-modal").classList.add("hidden");
  const back = returnFocus?.isConnected ? returnFocus : $("timeline");
  returnFocus = null;
  back.focus();
  done?.(yes);
}

/** Whether a question is waiting for its answer. */
export function asking(): boolean {
  return answer !== null;
}

/** Asks in the app's dialog; true when the user chose `yes`. A second question replaces the first (answered no). */
export function ask(q: Question): Promise<boolean> {
  wire();
  if (answer) close(false);
  $("ask-title").textContent = q.title;
  $("ask-message").textContent = q.message;
  $("ask-hint").textContent = q.hint ?? "";
  $("ask-hint").classList.toggle("hidden", !q.hint);
  const yes = $<HTMLButtonElement>("ask-yes");
  yes.textContent = q.yes;
  yes.classList.toggle("danger", !!q.danger);
  yes.classList.toggle("primary", !q.danger);
  $("ask-no").textContent = q.no ?? "Cancel";
  returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  $("ask-modal").classList.remove("hidden");
  // The keyboard starts on "no": Enter straight away changes nothing.
  $("ask-no").focus();
  return new Promise((resolve) => {
    answer = resolve;
  });
}
