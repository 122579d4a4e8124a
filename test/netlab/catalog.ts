/**
 * Every network lab scenario, by name: the bot scenarios and those with a
 * real Chromium participant. The suite and `npm run netlab` list these.
 */
import { BROWSER_SCENARIOS } from './browserScenarios'
import { BOT_SCENARIOS, type Scenario } from './scenarios'

/** Every scenario `npm run netlab` runs by name. */
export const ALL_SCENARIOS: Scenario[] = [...BOT_SCENARIOS, ...BROWSER_SCENARIOS]

/** The scenarios of `npm test`: all but those that reproduce an open bug. */
export const SCENARIOS: Scenario[] = ALL_SCENARIOS.filter((s) => !s.reproduces)

/** Finds a scenario by name, or throws listing the names. */
export function scenarioNamed(name: string): Scenario {
  const scenario = ALL_SCENARIOS.find((s) => s.name === name)
  if (!scenario) throw new Error(`no scenario ${name}; there are: ${ALL_SCENARIOS.map((s) => s.name).join(', ')}`)
  return scenario
}
