import type {CloudWatchLogsClient} from '@aws-sdk/client-cloudwatch-logs'

import type {AwsClients} from './clients.js'
import {errorName} from './errors.js'
import {logsModule} from './sdk.js'

/**
 * Follows one CloudWatch Logs stream (a CodeBuild build's log) with GetLogEvents from the head,
 * passing `nextForwardToken` back: the same token back means no new events yet. The SDK module is
 * loaded on first use only.
 */
export class LogFollower {
  private client?: Promise<CloudWatchLogsClient>
  private token: string | undefined

  constructor(
    private readonly aws: AwsClients,
    readonly group: string,
    readonly stream: string,
  ) {}

  private logs(): Promise<CloudWatchLogsClient> {
    this.client ??= logsModule().then(({CloudWatchLogsClient}) =>
      this.aws.serviceClient('cloudwatch_logs', (config) => new CloudWatchLogsClient(config)),
    )
    return this.client
  }

  /**
   * The events written since the last call, as text lines (possibly none). A stream that does
   * not exist yet (the build has not started writing) gives none.
   */
  async next(signal?: AbortSignal): Promise<string[]> {
    const {GetLogEventsCommand} = await logsModule()
    const client = await this.logs()
    const lines: string[] = []
    // A page may be followed by more: read until the token stops moving.
    for (let page = 0; page < 50; page++) {
      let out
      try {
        out = await client.send(
          new GetLogEventsCommand({
            logGroupName: this.group,
            logStreamName: this.stream,
            startFromHead: true,
            ...(this.token === undefined ? {} : {nextToken: this.token}),
          }),
          this.aws.callOptions(signal),
        )
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') return lines
        throw this.aws.failure(
          error,
          'logs:GetLogEvents',
          `Reading the build log ${this.group}/${this.stream}`,
        )
      }
      for (const event of out.events ?? [])
        if (event.message !== undefined) lines.push(...event.message.replace(/\r?\n$/, '').split(/\r?\n/))
      const moved = out.nextForwardToken !== undefined && out.nextForwardToken !== this.token
      if (out.nextForwardToken !== undefined) this.token = out.nextForwardToken
      if (!moved || (out.events ?? []).length === 0) break
    }
    return lines
  }
}
