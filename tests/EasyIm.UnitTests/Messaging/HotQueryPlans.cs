using System.Data.Common;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Retention;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// The messaging service's hot queries, as its real code paths send them to the database: each path is run
/// against a <see cref="MessagingHost"/> while EF's diagnostic events record every command on that host's
/// database, and every recorded command that reads or deletes messages is explained on the same database.
/// A query changed in the code is checked as changed; a path that stops reading messages fails the test.
/// Shared by the SQLite unit test and the PostgreSQL integration test (linked there).
/// </summary>
internal static partial class HotQueryPlans
{
    public sealed record Captured(string Sql, IReadOnlyList<(string Name, object? Value, System.Data.DbType Type)> Parameters);

    public sealed record Plan(string Path, string Sql, string Text);

    /// <summary>Settings a host needs for <see cref="RunAsync"/>: retention on, so its delete can be explained.</summary>
    public static readonly Dictionary<string, string?> HostSettings = new()
    {
        ["Messaging:Retention:DirectDays"] = "30",
        ["Messaging:Retention:GroupDays"] = "30",
        ["Messaging:Retention:BatchSize"] = "3",
    };

    /// <summary>Runs each hot path; returns every command on messages it sent, explained, by path.</summary>
    /// <param name="connectionToken">Text only this host's connection strings contain (its directory, its database's name).</param>
    public static async Task<List<Plan>> RunAsync(MessagingHost host, string connectionToken)
    {
        var (a, b, group) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.JoinGroupAsync(group, a, "owner");
        await host.JoinGroupAsync(group, b);
        var ids = Enumerable.Range(1, 20).Select(i => $"plan-{i}").ToArray();
        await host.SubmitAsync([.. ids.Select(id => MessagingHost.Chat(a, b, id, id)), MessagingHost.Chat(a, group, "plan-g", "g", chatType: 1)]);
        var direct = (await host.AnswersAsync(a, ids))[0].ConversationId!;
        var groupConversation = (await host.AnswersAsync(a, "plan-g"))[0].ConversationId!;

        var plans = new List<Plan>();
        async Task PathAsync(string path, Func<Task> run)
        {
            using var capture = new CommandCapture(connectionToken);
            await run();
            var onMessages = capture.Commands.Where(c => MessagesTable().IsMatch(c.Sql)).ToList();
            Assert.True(onMessages.Count > 0, $"{path}: no command on messages was seen; the path or the capture changed");
            foreach (var command in onMessages)
                plans.Add(new Plan(path, command.Sql, await ExplainAsync(host, command)));
        }

        await PathAsync("send: dedupe by (sender_id, client_msg_id)", async () =>
        {
            await host.SubmitAsync(MessagingHost.Chat(a, b, "plan-3", "plan-3 again"), MessagingHost.Chat(a, b, "plan-new", "new"));
            await host.AnswersAsync(a, "plan-new");
        });
        await PathAsync("history page", () => host.Harness.GetRequestClient<GetHistory>().GetResponse<HistoryPage>(new GetHistory(b, direct, 15, 5)));
        await PathAsync("conversation list", () => host.Harness.GetRequestClient<ListConversations>().GetResponse<ConversationList>(new ListConversations(b)));
        await PathAsync("sync from an old cursor", () => host.Harness.Bus.CreateRequestClient<SyncConversations>()
            .GetResponse<SyncPage>(new SyncConversations(b, "plan-sync", new Dictionary<string, ulong> { [direct] = 2, [groupConversation] = 0 })));
        await PathAsync("connect-time catch-up (after the ARRIVED cursors)", () => host.Harness.Bus.CreateRequestClient<SyncConversations>()
            .GetResponse<SyncPage>(new SyncConversations(b, "plan-connect", null)));
        await PathAsync("sync after a stream position", () => host.Harness.Bus.CreateRequestClient<SyncConversations>()
            .GetResponse<SyncPage>(new SyncConversations(b, "plan-after", null, After: 3)));
        await PathAsync("retention's batch", async () =>
        {
            await host.DbAsync(db => db.Messages.Where(m => m.ConversationId == direct && m.ConversationSeq <= 5)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.SentAtMs, m => m.SentAtMs - 40 * 86_400_000L)));
            Assert.True(await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None) >= 0);
        });
        return plans;
    }

    /// <summary>The table as either provider's SQL names it: <c>"messages"</c> (SQLite), <c>messaging.messages</c> (Npgsql quotes only when it must).</summary>
    [GeneratedRegex("(^|[\\s.(])\"?(messages|stream_entries)\"?(\\s|$)", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex MessagesTable();

    [GeneratedRegex("\"?(?:messages|stream_entries)\"? AS \"?(\\w+)\"?", RegexOptions.IgnoreCase)]
    private static partial Regex MessagesAlias();

    /// <summary>
    /// Whether a plan reads all of messages: SQLite's <c>SCAN</c> of the table or of any alias of it (with or without
    /// a covering index, a SCAN visits every row; a hot query must SEARCH), PostgreSQL's <c>Seq Scan on messages</c>.
    /// </summary>
    public static bool ScansMessages(Plan plan)
    {
        var names = MessagesAlias().Matches(plan.Sql).Select(m => m.Groups[1].Value).Append("messages").Append("stream_entries").ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var line in plan.Text.Split('\n'))
        {
            var text = line.Trim();
            if (text.Contains("Seq Scan on messages", StringComparison.OrdinalIgnoreCase) || text.Contains("Seq Scan on stream_entries", StringComparison.OrdinalIgnoreCase))
                return true;
            if (text.StartsWith("SCAN ", StringComparison.Ordinal) && names.Contains(text[5..].Split(' ')[0]))
                return true;
        }
        return false;
    }

    /// <summary>
    /// Explains a recorded command with its own parameters on the host's database. On PostgreSQL with
    /// <c>enable_seqscan = off</c> for the explain's transaction: the test tables hold dozens of rows, where a
    /// sequential scan is the planner's right choice; with it off a Seq Scan is chosen only when no index can serve.
    /// </summary>
    private static async Task<string> ExplainAsync(MessagingHost host, Captured captured)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MessagingDbContext>();
        var postgres = db.Database.IsNpgsql();
        await db.Database.OpenConnectionAsync();
        await using var transaction = await db.Database.BeginTransactionAsync();
        var connection = db.Database.GetDbConnection();
        if (postgres)
            await db.Database.ExecuteSqlRawAsync("SET LOCAL enable_seqscan = off");
        await using var command = connection.CreateCommand();
        command.Transaction = transaction.GetDbTransaction();
        command.CommandText = (postgres ? "EXPLAIN " : "EXPLAIN QUERY PLAN ") + captured.Sql;
        foreach (var (name, value, type) in captured.Parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            if (value is not Array)
                parameter.DbType = type;
            command.Parameters.Add(parameter);
        }
        var plan = new StringBuilder();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                plan.AppendLine(postgres ? reader.GetString(0) : reader.GetString(3));
        }
        await transaction.RollbackAsync();
        return plan.ToString();
    }

    /// <summary>Records EF's commands on one database while it lives, from EF's diagnostic events (process-wide, so filtered by connection).</summary>
    private sealed class CommandCapture : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
    {
        private readonly string _token;
        private readonly List<IDisposable> _subscriptions = [];
        private readonly List<Captured> _commands = [];

        public CommandCapture(string token)
        {
            _token = token;
            _subscriptions.Add(DiagnosticListener.AllListeners.Subscribe(this));
        }

        public IReadOnlyList<Captured> Commands
        {
            get
            {
                lock (_commands)
                    return [.. _commands];
            }
        }

        public void OnNext(DiagnosticListener listener)
        {
            if (listener.Name == DbLoggerCategory.Name)
            {
                lock (_subscriptions)
                    _subscriptions.Add(listener.Subscribe(this, name => name == RelationalEventId.CommandExecuting.Name));
            }
        }

        public void OnNext(KeyValuePair<string, object?> value)
        {
            // SQLite names the file (in the host's directory) as its data source; Npgsql keeps the database's name.
            if (value.Value is not CommandEventData { Command: { Connection: { } connection } command }
                || !(connection.DataSource.Contains(_token, StringComparison.Ordinal) || connection.Database == _token))
                return;
            var parameters = command.Parameters.Cast<DbParameter>().Select(p => (p.ParameterName, (object?)p.Value, p.DbType)).ToList();
            lock (_commands)
                _commands.Add(new Captured(command.CommandText, parameters));
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void Dispose()
        {
            lock (_subscriptions)
            {
                foreach (var subscription in _subscriptions)
                    subscription.Dispose();
            }
        }
    }
}
