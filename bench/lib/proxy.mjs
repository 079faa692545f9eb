// A counting TCP proxy on loopback in front of the registry: every byte a push sends (up) and
// receives (down) passes through it, so a run's upload can be read off the counters.
import net from 'node:net'

export async function startCountingProxy({listenPort, targetPort, host = '127.0.0.1'}) {
  const counters = {up: 0, down: 0, connections: 0}
  const sockets = new Set()
  const server = net.createServer((client) => {
    counters.connections++
    const upstream = net.connect(targetPort, host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (chunk) => (counters.up += chunk.length))
    upstream.on('data', (chunk) => (counters.down += chunk.length))
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(listenPort, host, resolve)
  })
  return {
    counters,
    reset() {
      counters.up = 0
      counters.down = 0
      counters.connections = 0
    },
    snapshot: () => ({...counters}),
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}
