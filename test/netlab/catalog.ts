/**
 * Every network lab scenario, by name: the bot scenarios and those with a
 * real Chromium participant. The suite and `npm run netlab` list these.
 */
import { BROWSER_SCENARIOS } from './browserScenarios'
import { BOT_SCENARIOS, type Scenario } from './scenarios'

export const SCENARIOS: Scenario[] = [...BOT_SCENARIOS, ...BROWSER_SCENARIOS]

/** Finds a scenario by name, or throws listing the names. */
export function scenarioNamed(name: string): Scenario {
  const scenario = SCENARIOS.find((s) => s.name === name)
  if (!scenario) throw new Error(`no scenario ${name}; there are: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  return scenario
}
