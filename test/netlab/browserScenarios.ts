/**
 * Network lab scenarios with a real Chromium participant in a home
 * namespace, beside bots.
 */
import type { Scenario } from './scenarios'

export const BROWSER_SCENARIOS: Scenario[] = []
