/** The doctor's findings and how they are printed: one line per check, ✔ ⚠ ✖ or –. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckLine {
  status: CheckStatus;
  text: string;
  /** What to do about it (for warn and fail). */
  hint?: string;
}

export interface CheckSection {
  title: string;
  lines: CheckLine[];
}

const SYMBOLS: Record<CheckStatus, string> = { ok: '✔', warn: '⚠', fail: '✖', skip: '–' };

export class DoctorReport {
  readonly sections: CheckSection[] = [];

  section(title: string): CheckSection {
    const section: CheckSection = { title, lines: [] };
    this.sections.push(section);
    return section;
  }

  count(status: CheckStatus): number {
    return this.sections.reduce((total, section) => total + section.lines.filter((line) => line.status === status).length, 0);
  }

  get healthy(): boolean {
    return this.count('fail') === 0;
  }

  format(): string {
    let text = '';
    for (const section of this.sections) {
      text += `\n${section.title}\n`;
      for (const line of section.lines) {
        text += `  ${SYMBOLS[line.status]} ${line.text}\n`;
        if (line.hint) text += `      → ${line.hint}\n`;
      }
    }
    const problems = this.count('fail');
    const warnings = this.count('warn');
    const passed = this.count('ok');
    const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
    text +=
      '\n' +
      (problems === 0
        ? `All checks passed (${plural(passed, 'check')}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}).\n`
        : `${plural(problems, 'problem')} found (${plural(passed, 'check')} passed${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}). Fix the ✖ lines above and run \`tokenkeeper doctor\` again.\n`);
    return text;
  }

  toJSON(): Record<string, unknown> {
    return {
      healthy: this.healthy,
      problems: this.count('fail'),
      warnings: this.count('warn'),
      passed: this.count('ok'),
      sections: this.sections,
    };
  }
}
