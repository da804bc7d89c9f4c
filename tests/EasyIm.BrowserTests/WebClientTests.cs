using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EasyIm.BrowserTests;

/// <summary>
/// The web client served by the gateway, in headless Chromium, against the standalone executable run
/// as a process: two people in two browser contexts (separate storage, as two machines) chat.
/// </summary>
[Collection(ChromiumCollection.Name)]
public sealed class WebClientTests(ChromiumFixture chromium) : IAsyncLifetime
{
    private const string Password = "secret-1";
    private readonly List<IBrowserContext> _contexts = [];
    private ServerProcess? _server;

    public Task InitializeAsync()
    {
        // Auto-waiting assertions, bounded: generous for a busy 2-core machine, never a fixed sleep.
        SetDefaultExpectTimeout(20_000);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
            await context.DisposeAsync();
        if (_server is not null)
            await _server.DisposeAsync();
    }

    private async Task<(ServerProcess Server, ChatPage Page)> StartAsync()
    {
        var browser = chromium.RequireBrowser();
        _server ??= await ServerProcess.StartAsync();
        return (_server, await NewPageAsync(browser));
    }

    private async Task<ChatPage> NewPageAsync(IBrowser browser)
    {
        var context = await browser.NewContextAsync();
        _contexts.Add(context);
        context.SetDefaultTimeout(20_000);
        var page = new ChatPage(await context.NewPageAsync());
        await page.OpenAsync(_server!.BaseAddress);
        return page;
    }

    [SkippableFact]
    public async Task Two_people_befriend_chat_one_to_one_and_in_a_group_with_ticks_badges_and_sync_after_reconnects()
    {
        var (server, alice) = await StartAsync();
        var bob = await NewPageAsync(chromium.RequireBrowser());
        await alice.RegisterAsync("alice", Password, "Alice");
        await bob.RegisterAsync("bob", Password, "Bob");

        // Search, invite, accept: each side hears of it live, over its socket.
        await alice.SearchAsync("bob");
        await alice.Button("Invite Bob").ClickAsync();
        await Expect(alice.Button("Invited Bob")).ToBeDisabledAsync();
        await bob.Button("Accept Alice").ClickAsync();
        await Expect(bob.Chat("Alice")).ToBeVisibleAsync();
        await Expect(alice.Chat("Bob")).ToBeVisibleAsync();

        // An empty message is not sent: the button stays disabled and Enter does nothing.
        await alice.OpenChatAsync("Bob");
        await alice.MessageBox.FillAsync("   ");
        await Expect(alice.SendButton).ToBeDisabledAsync();
        await alice.MessageBox.PressAsync("Enter");
        await Expect(alice.Messages.GetByRole(AriaRole.Listitem)).ToHaveCountAsync(0);

        // One to one: delivered once Bob's client has it, read once Bob opens the chat.
        await alice.SendAsync("Hello Bob");
        await Expect(bob.Badge("Alice")).ToHaveTextAsync("1 unread");
        await Expect(alice.Tick("Hello Bob")).ToHaveAttributeAsync("aria-label", "delivered");
        await bob.OpenChatAsync("Alice");
        await Expect(bob.Message("Hello Bob")).ToBeVisibleAsync();
        await Expect(bob.Badge("Alice")).ToHaveCountAsync(0);
        await Expect(alice.Tick("Hello Bob")).ToHaveAttributeAsync("aria-label", "read");

        // And back: Alice sees Bob typing; she has the chat open, so his message is read as it lands; no badge.
        await bob.MessageBox.FillAsync("Hi");
        await Expect(alice.Page.GetByText("Bob is typing…")).ToBeVisibleAsync();
        await bob.SendAsync("Hi Alice");
        await Expect(alice.Message("Hi Alice")).ToBeVisibleAsync();
        await Expect(bob.Tick("Hi Alice")).ToHaveAttributeAsync("aria-label", "read");
        await Expect(alice.Badge("Bob")).ToHaveCountAsync(0);

        // A group of the two: Bob learns of it from its first message, with a badge until he looks.
        await alice.Button("New group").ClickAsync();
        await alice.Page.GetByLabel("Group name").FillAsync("Team");
        await alice.Page.GetByRole(AriaRole.Checkbox, new() { Name = "Bob" }).CheckAsync();
        await alice.Button("Create group").ClickAsync();
        await Expect(alice.ConversationTitle).ToHaveTextAsync("Team");
        await alice.SendAsync("Hello team");
        await Expect(bob.Badge("Team")).ToHaveTextAsync("1 unread");
        await bob.OpenChatAsync("Team");
        await Expect(bob.Message("Hello team")).ToContainTextAsync("Alice");
        await Expect(bob.Badge("Team")).ToHaveCountAsync(0);
        await bob.SendAsync("Hi team");
        await Expect(alice.Message("Hi team")).ToContainTextAsync("Bob");
        await Expect(alice.Tick("Hello team")).ToHaveAttributeAsync("aria-label", "read");

        // Alice offline: Bob's messages are stored (sent) but not delivered; back online, she gets each once, in order.
        await bob.OpenChatAsync("Alice");
        await alice.PauseConnectionAsync();
        await Expect(alice.Status).ToHaveTextAsync("Offline");
        string[] whileOffline = ["offline 1", "offline 2", "offline 3"];
        foreach (var text in whileOffline)
            await bob.SendAsync(text);
        foreach (var text in whileOffline)
            await Expect(bob.Tick(text)).ToHaveAttributeAsync("aria-label", "sent");
        await alice.ResumeConnectionAsync();
        await Expect(alice.Status).ToHaveTextAsync("Online");
        await Expect(alice.Badge("Bob")).ToHaveTextAsync("3 unread");
        foreach (var text in whileOffline)
            await Expect(bob.Tick(text)).ToHaveAttributeAsync("aria-label", "delivered");
        await alice.OpenChatAsync("Bob");
        string[] oneToOne = ["Hello Bob", "Hi Alice", .. whileOffline];
        await Expect(alice.MessageTexts).ToHaveTextAsync(oneToOne);
        await Expect(bob.Tick("offline 3")).ToHaveAttributeAsync("aria-label", "read");

        // The socket drops while Bob sends: whatever raced the drop comes with the reconnect's sync, once.
        await alice.Chat("Team").ClickAsync();
        await alice.DropConnectionAsync();
        string[] duringDrop = ["drop 1", "drop 2", "drop 3"];
        foreach (var text in duringDrop)
            await bob.SendAsync(text);
        await Expect(alice.Status).ToHaveTextAsync("Online");
        await Expect(alice.Badge("Bob")).ToHaveTextAsync("3 unread");
        await alice.OpenChatAsync("Bob");
        oneToOne = [.. oneToOne, .. duringDrop];
        await Expect(alice.MessageTexts).ToHaveTextAsync(oneToOne);

        // The server dies: Bob's messages wait in his tab and go out again, with their own ids, when it is
        // back; both tabs reconnect by themselves, and Alice sees each message once, in order.
        await server.KillAsync();
        await Expect(alice.Status).Not.ToHaveTextAsync("Online");
        await Expect(bob.Status).Not.ToHaveTextAsync("Online");
        string[] whileDown = ["down 1", "down 2", "down 3"];
        foreach (var text in whileDown)
            await bob.SendAsync(text);
        foreach (var text in whileDown)
            await Expect(bob.Tick(text)).ToHaveAttributeAsync("aria-label", "sending");
        await server.StartProcessAsync();
        await Expect(bob.Status).ToHaveTextAsync("Online", new() { Timeout = 40_000 });
        await Expect(alice.Status).ToHaveTextAsync("Online", new() { Timeout = 40_000 });
        oneToOne = [.. oneToOne, .. whileDown];
        await Expect(alice.MessageTexts).ToHaveTextAsync(oneToOne);
        await Expect(bob.MessageTexts).ToHaveTextAsync(oneToOne);
        foreach (var text in whileDown)
            await Expect(bob.Tick(text)).ToHaveAttributeAsync("aria-label", "read");

        // Missed while offline, then a reload: those messages come both in the history page and in the
        // connect-time sync, and still show once, in order, counted once in the badge.
        await alice.Chat("Team").ClickAsync();
        await alice.PauseConnectionAsync();
        string[] beforeReload = ["reload 1", "reload 2"];
        foreach (var text in beforeReload)
            await bob.SendAsync(text);
        foreach (var text in beforeReload)
            await Expect(bob.Tick(text)).ToHaveAttributeAsync("aria-label", "sent");
        await alice.Page.ReloadAsync();
        await Expect(alice.Status).ToHaveTextAsync("Online");
        await Expect(alice.Badge("Bob")).ToHaveTextAsync("2 unread");
        await alice.OpenChatAsync("Bob");
        oneToOne = [.. oneToOne, .. beforeReload];
        await Expect(alice.MessageTexts).ToHaveTextAsync(oneToOne);
        await Expect(alice.Badge("Bob")).ToHaveCountAsync(0);
        await Expect(bob.Tick("reload 2")).ToHaveAttributeAsync("aria-label", "read");
    }

    [SkippableFact]
    public async Task A_tab_that_was_offline_learns_on_reconnect_of_the_group_it_was_added_to_meanwhile()
    {
        var (_, alice) = await StartAsync();
        var bob = await NewPageAsync(chromium.RequireBrowser());
        await alice.RegisterAsync("alice3", Password, "Alice");
        await bob.RegisterAsync("bob3", Password, "Bob");
        await alice.SearchAsync("bob3");
        await alice.Button("Invite Bob").ClickAsync();
        await bob.Button("Accept Alice").ClickAsync();
        await Expect(alice.Chat("Bob")).ToBeVisibleAsync();

        // Alice's socket is down while Bob makes a group with her: its GROUP_JOIN push finds no connection. Her reconnect's
        // SYNC after her stream position brings it, and the group shows before anyone writes in it.
        await alice.PauseConnectionAsync();
        await Expect(alice.Status).ToHaveTextAsync("Offline");
        await bob.Button("New group").ClickAsync();
        await bob.Page.GetByLabel("Group name").FillAsync("Late");
        await bob.Page.GetByRole(AriaRole.Checkbox, new() { Name = "Alice" }).CheckAsync();
        await bob.Button("Create group").ClickAsync();
        await Expect(bob.ConversationTitle).ToHaveTextAsync("Late");
        await Expect(alice.Chat("Late")).ToHaveCountAsync(0);
        await alice.ResumeConnectionAsync();

        await Expect(alice.Status).ToHaveTextAsync("Online");
        await Expect(alice.Chat("Late")).ToBeVisibleAsync();
    }

    [SkippableFact]
    public async Task A_tab_that_was_offline_catches_up_from_its_own_cursors_while_another_tab_of_the_same_user_read_on()
    {
        var (_, aliceHere) = await StartAsync();
        var bob = await NewPageAsync(chromium.RequireBrowser());
        await aliceHere.RegisterAsync("alice", Password, "Alice");
        await bob.RegisterAsync("bob", Password, "Bob");
        await aliceHere.SearchAsync("bob");
        await aliceHere.Button("Invite Bob").ClickAsync();
        await bob.Button("Accept Alice").ClickAsync();
        await Expect(aliceHere.Chat("Bob")).ToBeVisibleAsync();

        // Alice's second device: its own browser, signed in to the same account.
        var aliceThere = await NewPageAsync(chromium.RequireBrowser());
        await aliceThere.FillSignInAsync("alice", Password);
        await aliceThere.ClickLogInAsync();
        await Expect(aliceThere.Status).ToHaveTextAsync("Online");

        await bob.OpenChatAsync("Alice");
        await aliceHere.OpenChatAsync("Bob");
        await aliceThere.OpenChatAsync("Bob");
        await bob.SendAsync("before");
        await Expect(aliceHere.Message("before")).ToBeVisibleAsync();
        await Expect(aliceThere.Message("before")).ToBeVisibleAsync();

        // The other device gets and reads these, so the user's cursors move past them...
        await aliceHere.PauseConnectionAsync();
        string[] missed = ["away 1", "away 2"];
        foreach (var text in missed)
            await bob.SendAsync(text);
        await Expect(aliceThere.MessageTexts).ToHaveTextAsync(["before", .. missed]);
        await Expect(bob.Tick("away 2")).ToHaveAttributeAsync("aria-label", "read");

        // ...and this one, back, asks from where it stopped rather than from the user's cursor.
        await aliceHere.ResumeConnectionAsync();
        await Expect(aliceHere.Status).ToHaveTextAsync("Online");
        await Expect(aliceHere.MessageTexts).ToHaveTextAsync(["before", .. missed]);
        await aliceHere.SendAsync("seen them");
        await Expect(bob.Message("seen them")).ToBeVisibleAsync();
        await Expect(aliceThere.Message("seen them")).ToBeVisibleAsync();
    }

    [SkippableFact]
    public async Task Bad_sign_ins_show_the_reason_and_the_server_keeps_serving()
    {
        var (_, page) = await StartAsync();

        await page.FillSignInAsync("carol", "short");
        await page.Button("Register").ClickAsync();
        await Expect(page.SignInError).ToContainTextAsync("password must be 6-128 characters");

        await page.FillSignInAsync("c", Password);
        await page.Button("Register").ClickAsync();
        await Expect(page.SignInError).ToContainTextAsync("account");

        await page.FillSignInAsync("", "");
        await page.ClickLogInAsync();
        await Expect(page.SignInError).ToHaveTextAsync("Enter your account and password.");

        await page.RegisterAsync("carol", Password, "Carol");
        await page.Button("Log out").ClickAsync();

        await page.FillSignInAsync("carol", "wrong-password");
        await page.ClickLogInAsync();
        await Expect(page.SignInError).ToHaveTextAsync("account or password is incorrect");
        await page.FillSignInAsync("nobody_here", Password);
        await page.ClickLogInAsync();
        await Expect(page.SignInError).ToHaveTextAsync("account or password is incorrect");

        await page.FillSignInAsync("carol", Password, "Carol");
        await page.Button("Register").ClickAsync();
        await Expect(page.SignInError).ToHaveTextAsync("account already exists");

        // Still serving, and the right password still works.
        await page.FillSignInAsync("carol", Password);
        await page.ClickLogInAsync();
        await Expect(page.Status).ToHaveTextAsync("Online");
        await Expect(page.Page.GetByText("Signed in as Carol (carol)")).ToBeVisibleAsync();

        // A search that finds nobody says so; an invalid one shows the server's reason beside the list.
        await page.SearchAsync("zzz_nobody");
        await Expect(page.Page.GetByText("Nobody matches “zzz_nobody”.")).ToBeVisibleAsync();
    }

    [SkippableFact]
    public async Task The_client_keeps_messages_that_come_out_of_order_or_twice_once_each_in_seq_order()
    {
        var (_, page) = await StartAsync();

        // The page's own module, in the browser: what pushes, syncs, history pages and acks feed it.
        var result = await page.Page.EvaluateAsync<JsonElement>("""
            async () => {
              const { Conversation, fromWire, singleConversationId } = await import('/js/store.js');
              const c = new Conversation('s_1_2', 0, '2');
              const theirs = (id, seq) => fromWire({ id, conversation_seq: String(seq), from_user_id: '2', content: 'm' + seq, sent_at: String(1000 + seq) });
              c.upsert({ id: null, clientMsgId: 'c1', from: '1', content: 'mine', seq: null, sentAt: 5000, state: 'pending', status: 0 }, '1');
              const fresh = [theirs('a', 3), theirs('b', 1), theirs('a', 3), theirs('c', 2)].map((m) => c.upsert(m, '1'));
              const beforeAck = c.messages.map((m) => m.content);
              const ack = fromWire({ id: 'd', client_msg_id: 'c1', from_user_id: '1', conversation_seq: '4', content: 'mine', status: 1, sent_at: '1004' });
              fresh.push(c.upsert(ack, '1'), c.upsert(ack, '1'));
              c.peerArrived = 4;
              return {
                fresh, beforeAck,
                after: c.messages.map((m) => `${m.content}:${m.seq}:${m.id}`),
                tick: c.tick(c.byClientId.get('c1')),
                lastSeq: c.lastSeq,
                ids: [singleConversationId('10', '9'), singleConversationId('386078676485144576', '99')],
              };
            }
            """);

        Assert.Equal([true, true, false, true, false, false], result.GetProperty("fresh").EnumerateArray().Select(e => e.GetBoolean()));
        Assert.Equal(["m1", "m2", "m3", "mine"], result.GetProperty("beforeAck").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["m1:1:b", "m2:2:c", "m3:3:a", "mine:4:d"], result.GetProperty("after").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("delivered", result.GetProperty("tick").GetString());
        Assert.Equal(4, result.GetProperty("lastSeq").GetInt32());
        // Numeric order of the 64-bit ids, as the server names conversations, not string order.
        Assert.Equal(["s_9_10", "s_99_386078676485144576"], result.GetProperty("ids").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task The_page_and_its_files_are_served_on_both_ports_and_a_websocket_upgrade_on_the_page_s_path_is_still_a_long_connection()
    {
        // No browser needed: this is what the browser is given.
        _server = await ServerProcess.StartAsync();
        using var http = new HttpClient();
        foreach (var origin in new[] { _server.BaseAddress, _server.SocketPortAddress })
        {
            using var index = await http.GetAsync(origin);
            Assert.Equal(HttpStatusCode.OK, index.StatusCode);
            Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
            Assert.Contains("<title>EasyIm</title>", await index.Content.ReadAsStringAsync());
            foreach (var (path, type) in new[] { ("js/app.js", "text/javascript"), ("js/connection.js", "text/javascript"), ("css/app.css", "text/css") })
            {
                using var file = await http.GetAsync(new Uri(origin, path));
                Assert.Equal(HttpStatusCode.OK, file.StatusCode);
                Assert.Equal(type, file.Content.Headers.ContentType?.MediaType);
                Assert.Equal("no-cache", file.Headers.CacheControl?.ToString());
            }
            using var missing = await http.GetAsync(new Uri(origin, "js/nope.js"));
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

            // "/" is the page for a GET and a long connection for an upgrade: a bad token is refused over the socket.
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri($"ws://{origin.Authority}/"), CancellationToken.None);
            await socket.SendAsync("""{"msg_type":4,"from_user_id":"1","access_token":"nope","content":"{\"key\":\"KEEP_ALIVE\"}"}"""u8.ToArray(),
                WebSocketMessageType.Text, true, CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var buffer = new byte[4096];
            var received = await socket.ReceiveAsync(buffer, timeout.Token);
            using var reply = JsonDocument.Parse(buffer.AsMemory(0, received.Count));
            Assert.Equal(5, reply.RootElement.GetProperty("msg_type").GetInt32()); // NOTIFY
            using var content = JsonDocument.Parse(reply.RootElement.GetProperty("content").GetString()!);
            Assert.Equal(401, content.RootElement.GetProperty("code").GetInt32());
        }
    }
}
