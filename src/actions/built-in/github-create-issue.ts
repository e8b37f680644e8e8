import Type from 'typebox';
import { defineAction } from '../action-definition.ts';

/** GitHub logins: letters, digits and single inner hyphens, at most 39 characters. */
const LOGIN = '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$';

/**
 * `github.issues.create`: `POST /repos/{owner}/{repo}/issues` with `{title, body, labels,
 * assignees, milestone}` and the headers GitHub's REST reference asks for (`Accept:
 * application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`). GitHub answers 201 with the
 * issue; 410 when the repository has issues turned off.
 */
export const githubCreateIssue = defineAction({
  name: 'github.issues.create',
  description: 'Opens an issue in a GitHub repository as the connected user or app.',
  providers: ['github', 'github-app'],
  input: Type.Object(
    {
      owner: Type.String({ maxLength: 39, pattern: LOGIN, description: 'a GitHub user or organization name' }),
      repo: Type.String({ maxLength: 100, pattern: '^(?!\\.\\.?$)[A-Za-z0-9._-]+$', description: 'a repository name (letters, digits, . _ -)' }),
      title: Type.String({ minLength: 1, maxLength: 256, description: 'The issue title.' }),
      body: Type.Optional(Type.String({ maxLength: 65_536, description: 'The issue text (Markdown).' })),
      labels: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 100, description: 'Label names.' })),
      assignees: Type.Optional(Type.Array(Type.String({ maxLength: 39, pattern: LOGIN, description: 'a GitHub login' }), { maxItems: 10, description: 'Logins; at most 10.' })),
      milestone: Type.Optional(Type.Integer({ minimum: 1, description: 'The milestone number.' })),
    },
    { additionalProperties: false },
  ),
  build(input) {
    return {
      method: 'POST',
      path: `/repos/${encodeURIComponent(input.owner)}/${encodeURIComponent(input.repo)}/issues`,
      headers: { Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' },
      body: {
        title: input.title,
        ...(input.body !== undefined ? { body: input.body } : {}),
        ...(input.labels !== undefined ? { labels: input.labels } : {}),
        ...(input.assignees !== undefined ? { assignees: input.assignees } : {}),
        ...(input.milestone !== undefined ? { milestone: input.milestone } : {}),
      },
    };
  },
  read(response) {
    const issue = (response.body ?? {}) as Record<string, unknown>;
    return {
      id: issue.id ?? null,
      number: issue.number ?? null,
      url: issue.url ?? null,
      html_url: issue.html_url ?? null,
      state: issue.state ?? null,
      title: issue.title ?? null,
    };
  },
});
