import Type from 'typebox';

/** What a scheduled job did (`JobReport`). */
export const JobReport = Type.Object(
  {
    job: Type.String(),
    checked: Type.Integer({ description: 'Connections looked at.' }),
    refreshed: Type.Integer(),
    failed: Type.Integer(),
    needs_reauth: Type.Integer({ description: 'Connections that now need the user to reconnect.' }),
    duration_ms: Type.Integer(),
  },
  { $id: 'JobReport', description: 'What a job run did.' },
);
