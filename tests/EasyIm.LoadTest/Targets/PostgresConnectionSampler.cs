using Npgsql;

namespace EasyIm.LoadTest.Targets;

/// <summary>
/// Counts PostgreSQL's connections once a second while the distributed shape runs (pg_stat_activity):
/// the run's database and the whole server, against max_connections. The server is shared, so a
/// refusal may come from the run or from what else uses it; the peaks say which. The sampler holds
/// its one connection from the start, so it still sees when every other slot is taken.
/// </summary>
public sealed class PostgresConnectionSampler : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly string _database;
    private readonly CancellationTokenSource _stop = new();
    private Task _sampling = Task.CompletedTask;

    private PostgresConnectionSampler(NpgsqlConnection connection, string database)
    {
        _connection = connection;
        _database = database;
    }

    public int PeakOfRun { get; private set; }
    public int PeakOfServer { get; private set; }
    public int MaxConnections { get; private set; }
    public int Samples { get; private set; }

    public static async Task<PostgresConnectionSampler> StartAsync(string adminConnectionString, string database, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken);
        var sampler = new PostgresConnectionSampler(connection, database);
        sampler._sampling = sampler.SampleAsync();
        return sampler;
    }

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            do
            {
                await using var count = new NpgsqlCommand(
                    "SELECT count(*) FILTER (WHERE datname = @db), count(*), current_setting('max_connections')::int FROM pg_stat_activity WHERE backend_type = 'client backend'",
                    _connection);
                count.Parameters.AddWithValue("db", _database);
                await using var reader = await count.ExecuteReaderAsync(_stop.Token);
                if (await reader.ReadAsync(_stop.Token))
                {
                    // The sampler's own connection is not the run's, and takes a slot of the server's like any other.
                    PeakOfRun = Math.Max(PeakOfRun, (int)reader.GetInt64(0));
                    PeakOfServer = Math.Max(PeakOfServer, (int)reader.GetInt64(1));
                    MaxConnections = reader.GetInt32(2);
                    Samples++;
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException)
        {
        }
        catch (NpgsqlException ex)
        {
            await Console.Error.WriteLineAsync($"counting PostgreSQL's connections stopped: {ex.Message}");
        }
    }

    public string Describe() => Samples == 0
        ? "- PostgreSQL connections: not sampled."
        : $"- PostgreSQL connections (pg_stat_activity each second, {Samples} samples): this run's database peaked at {PeakOfRun}, " +
          $"the whole server at {PeakOfServer} (the sampler's own included) of max_connections {MaxConnections}.";

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampling;
        await _connection.DisposeAsync();
        _stop.Dispose();
    }
}
