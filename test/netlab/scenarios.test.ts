import { expect, it } from 'vitest'
import { SCENARIOS } from './catalog'
import { runScenario } from './scenarios'
import { describeLab } from './suite'

describeLab('network lab scenarios', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.description}`, async () => {
      const result = await runScenario(scenario)
      // Timings for the record, never asserted.
      process.stdout.write(`netlab ${scenario.name}: ${result.pairs.join('; ')} ${JSON.stringify(result.timings)}\n`)
      expect(result.problems).toEqual([])
    }, 150_000)
  }
})
