using Microsoft.Extensions.Hosting;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// Closes silent connections and expired ones: every <see cref="Every"/> it looks at each open connection
/// and closes those past their time (the handshake timeout, then DropAfter) or past their access token's
/// expiry (NOTIFY 401, unless a heartbeat renewed the token). One coarse sweep for the whole
/// gateway instead of a timer per connection: a connection's clock is then a number it updates on
/// each frame, and an idle connection costs no timer. A connection is closed up to one period late.
/// </summary>
public sealed class ConnectionSweeper(ConnectionRegistry registry, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
            Sweep();
    }

    /// <summary>Closes every open connection that has been silent past its time, or whose access token expired.</summary>
    public void Sweep()
    {
        var now = time.GetTimestamp();
        var utcNow = time.GetUtcNow();
        foreach (var connection in registry.Open)
        {
            connection.CloseIfSilent(now);
            connection.CloseIfExpired(utcNow);
        }
    }
}
