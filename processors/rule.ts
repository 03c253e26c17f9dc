/**
 * The rule as data: what it detects, how severe, where it sits in MITRE ATT&CK, and what an
 * analyst does about it. Alerts copy it, so dashboards and runbooks can rely on these fields.
 */
export const RULE = {
  id: 'aws-cloudtrail-impossible-travel',
  name: 'AWS access key used from two places too far apart for the time between them',
  version: 1,
  description:
    'One AWS access key appeared in CloudTrail at two locations whose distance cannot be covered at a plausible ' +
    'speed in the time between the events. A key used from two continents within minutes has usually leaked.',
  severity: 'high',
  risk_score: 73,
  category: 'Cloud credential misuse',
  references: ['https://attack.mitre.org/techniques/T1078/004/'],
} as const;

/** ECS `threat.*`: Valid Accounts: Cloud Accounts serves four tactics. */
export const THREAT = {
  framework: 'MITRE ATT&CK',
  tactic: {
    id: ['TA0001', 'TA0003', 'TA0004', 'TA0005'],
    name: ['Initial Access', 'Persistence', 'Privilege Escalation', 'Defense Evasion'],
  },
  technique: {
    id: ['T1078'],
    name: ['Valid Accounts'],
    subtechnique: { id: ['T1078.004'], name: ['Cloud Accounts'] },
  },
} as const;
