using System.Net.Http.Headers;
using System.Net.Http.Json;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EasyIm.BrowserTests;

/// <summary>
/// What a chat user expects beyond chatting, in headless Chromium against the standalone executable:
/// turning down and ending friendships, growing and leaving groups, and reading a long history page by
/// page. Where the test is not about it, users, friendships and messages are made over the HTTP API and
/// a socket (EasyIm.Client) rather than by clicking, which is quicker and no less real.
/// </summary>
[Collection(ChromiumCollection.Name)]
public sealed class FriendsGroupsHistoryTests(ChromiumFixture chromium) : IAsyncLifetime
{
    private const string Password = "secret-1";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly List<IBrowserContext> _contexts = [];
    private readonly List<EasyImApi> _apis = [];
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
        foreach (var api in _apis)
            api.Dispose();
        if (_server is not null)
            await _server.DisposeAsync();
    }

    private async Task<ServerProcess> StartAsync()
    {
        chromium.RequireBrowser();
        return _server ??= await ServerProcess.StartAsync();
    }

    private async Task<ChatPage> NewPageAsync()
    {
        var context = await chromium.RequireBrowser().NewContextAsync();
        _contexts.Add(context);
        context.SetDefaultTimeout(20_000);
        var page = new ChatPage(await context.NewPageAsync());
        await page.OpenAsync(_server!.BaseAddress);
        return page;
    }

    private async Task<(EasyImApi Api, long Id, string Token)> RegisterAsync(string account, string nickname)
    {
        var api = EasyImApi.Connect("127.0.0.1", _server!.ApiPort);
        _apis.Add(api);
        var session = await api.RegisterAsync(account, Password, nickname);
        return (api, session.UserId, session.AccessToken);
    }

    private static async Task BefriendAsync((EasyImApi Api, long Id, string Token) inviter, (EasyImApi Api, long Id, string Token) invitee) =>
        await invitee.Api.AcceptFriendAsync(await inviter.Api.AddFriendAsync(invitee.Id));

    [SkippableFact]
    public async Task A_rejected_invitation_makes_no_friends_and_a_removed_friend_leaves_both_chat_lists_live()
    {
        await StartAsync();
        var alice = await NewPageAsync();
        var bob = await NewPageAsync();
        await alice.RegisterAsync("alice", Password, "Alice");
        await bob.RegisterAsync("bob", Password, "Bob");

        // Bob turns the invitation down: it leaves his list; Alice is not told (as in easyim), and stays no friend of his.
        await alice.SearchAsync("bob");
        await alice.Button("Invite Bob").ClickAsync();
        await bob.Button("Reject Alice").ClickAsync();
        await Expect(bob.Button("Accept Alice")).ToHaveCountAsync(0);
        await Expect(bob.Page.GetByRole(AriaRole.Heading, new() { Name = "Friend requests" })).ToBeHiddenAsync();
        await alice.SearchAsync("bob");
        await Expect(alice.Button("Invite Bob")).ToBeEnabledAsync();
        await Expect(alice.Button("Chat with Bob")).ToHaveCountAsync(0);
        await Expect(alice.Chat("Bob")).ToHaveCountAsync(0);
        await Expect(bob.Chat("Alice")).ToHaveCountAsync(0);

        // She may ask again; this time he accepts.
        await alice.Button("Invite Bob").ClickAsync();
        await bob.Button("Accept Alice").ClickAsync();
        await Expect(alice.Chat("Bob")).ToBeVisibleAsync();
        await Expect(bob.Chat("Alice")).ToBeVisibleAsync();
        await alice.OpenChatAsync("Bob");
        await alice.SendAsync("friends again");
        await Expect(bob.Badge("Alice")).ToHaveTextAsync("1 unread");

        // Removing asks first; "Cancel" changes nothing.
        await alice.ConfirmAsync("Remove friend", "Remove Bob from your friends?", "Cancel");
        await Expect(alice.ConversationTitle).ToHaveTextAsync("Bob");
        await Expect(alice.Chat("Bob")).ToBeVisibleAsync();

        // Confirmed: the chat leaves Alice's list at once and Bob's as the server tells his tab (FRIEND_REMOVE).
        await alice.ConfirmAsync("Remove friend", "Remove Bob from your friends?", "Remove");
        await Expect(alice.Chat("Bob")).ToHaveCountAsync(0);
        await Expect(alice.ConversationTitle).ToHaveTextAsync("No chat open");
        await Expect(alice.MessageBox).ToBeHiddenAsync();
        await Expect(bob.Chat("Alice")).ToHaveCountAsync(0);

        // It stays so after a reload (the server still lists the old chat among the conversations), and
        // they are strangers again: a search offers an invitation.
        await bob.Page.ReloadAsync();
        await Expect(bob.Status).ToHaveTextAsync("Online");
        await Expect(bob.Chats.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await bob.SearchAsync("alice");
        await Expect(bob.Button("Invite Alice")).ToBeVisibleAsync();
        await alice.SearchAsync("bob");
        await Expect(alice.Button("Invite Bob")).ToBeVisibleAsync();
    }

    [SkippableFact]
    public async Task Members_are_added_from_friends_and_leave_a_group_and_a_refused_addition_shows_the_server_s_reason()
    {
        await StartAsync();
        var aliceUser = await RegisterAsync("alice", "Alice");
        var bobUser = await RegisterAsync("bob", "Bob");
        var carolUser = await RegisterAsync("carol", "Carol");
        var daveUser = await RegisterAsync("dave", "Dave");
        foreach (var friend in new[] { bobUser, carolUser, daveUser })
            await BefriendAsync(aliceUser, friend);
        var alice = await NewPageAsync();
        var bob = await NewPageAsync();
        var carol = await NewPageAsync();
        await alice.LogInAsync("alice", Password);
        await bob.LogInAsync("bob", Password);
        await carol.LogInAsync("carol", Password);

        await alice.Button("New group").ClickAsync();
        await alice.Page.GetByLabel("Group name").FillAsync("Team");
        await alice.Page.GetByRole(AriaRole.Checkbox, new() { Name = "Bob" }).CheckAsync();
        await alice.Button("Create group").ClickAsync();
        await Expect(alice.ConversationTitle).ToHaveTextAsync("Team");
        await Expect(alice.MemberCount).ToHaveTextAsync("2 members");
        await alice.SendAsync("hello team");
        await Expect(bob.Badge("Team")).ToHaveTextAsync("1 unread");

        // Alice adds Carol: only friends not in the group are offered; nothing ticked is refused in the page.
        await alice.Button("Add members").ClickAsync();
        var choices = alice.Page.GetByRole(AriaRole.Group, new() { Name = "Friends not in the group" });
        await Expect(choices.GetByRole(AriaRole.Checkbox)).ToHaveCountAsync(2);
        await Expect(choices.GetByRole(AriaRole.Checkbox, new() { Name = "Bob" })).ToHaveCountAsync(0);
        await alice.Button("Add to group").ClickAsync();
        await Expect(alice.PaneError).ToHaveTextAsync("Pick at least one friend to add.");
        await choices.GetByRole(AriaRole.Checkbox, new() { Name = "Carol" }).CheckAsync();
        await alice.Button("Add to group").ClickAsync();
        await Expect(alice.MemberCount).ToHaveTextAsync("3 members");
        await Expect(alice.PaneError).ToBeHiddenAsync();

        // Carol's tab shows the group at once (GROUP_JOIN), and she gets what is sent after.
        await Expect(carol.Chat("Team")).ToBeVisibleAsync();
        await carol.OpenChatAsync("Team");
        await Expect(carol.MemberCount).ToHaveTextAsync("3 members");
        await alice.SendAsync("welcome Carol");
        await Expect(carol.Message("welcome Carol")).ToContainTextAsync("Alice");
        await carol.Button("Members").ClickAsync();
        await Expect(carol.MemberList.GetByRole(AriaRole.Listitem)).ToHaveCountAsync(3);

        // Bob leaves, after a confirmation: the group leaves his list; the others' member lists shrink live (GROUP_LEAVE).
        await bob.OpenChatAsync("Team");
        await Expect(bob.MemberCount).ToHaveTextAsync("3 members");
        await bob.ConfirmAsync("Leave group", "Leave Team?", "Leave");
        await Expect(bob.Chat("Team")).ToHaveCountAsync(0);
        await Expect(bob.ConversationTitle).ToHaveTextAsync("No chat open");
        await Expect(alice.MemberCount).ToHaveTextAsync("2 members");
        await Expect(carol.MemberList.GetByRole(AriaRole.Listitem)).ToHaveCountAsync(2);
        await Expect(carol.MemberList).Not.ToContainTextAsync("Bob");

        // He gets nothing more of it: a one-to-one message sent after the group's reaches him, the group's does not.
        await alice.SendAsync("after Bob left");
        await Expect(carol.Message("after Bob left")).ToBeVisibleAsync();
        await alice.OpenChatAsync("Bob");
        await alice.SendAsync("still there?");
        await bob.OpenChatAsync("Alice");
        await Expect(bob.Message("still there?")).ToBeVisibleAsync();
        await Expect(bob.Chat("Team")).ToHaveCountAsync(0);
        await Expect(bob.Page.GetByText("after Bob left")).ToHaveCountAsync(0);
        await bob.Page.ReloadAsync();
        await Expect(bob.Status).ToHaveTextAsync("Online");
        await Expect(bob.Chat("Alice")).ToBeVisibleAsync();
        await Expect(bob.Chat("Team")).ToHaveCountAsync(0);

        // Dave ends the friendship while Alice's tab is offline (so it hears nothing of it) and she still offers
        // him: the server refuses the addition, the page says why, and stays usable.
        await alice.OpenChatAsync("Team");
        await alice.PauseConnectionAsync();
        await alice.Button("Add members").ClickAsync();
        await RemoveFriendAsync(daveUser.Token, aliceUser.Id);
        await choices.GetByRole(AriaRole.Checkbox, new() { Name = "Dave" }).CheckAsync();
        await alice.Button("Add to group").ClickAsync();
        await Expect(alice.PaneError).ToHaveTextAsync($"user {daveUser.Id} is not your friend; you may invite only your friends");
        await Expect(alice.MemberCount).ToHaveTextAsync("2 members");
        await alice.ResumeConnectionAsync();
        await Expect(alice.Status).ToHaveTextAsync("Online");
        // Back online, the tab asks for what followed its stream position: the removal it missed takes Dave off.
        await Expect(choices.GetByRole(AriaRole.Checkbox, new() { Name = "Dave" })).ToHaveCountAsync(0);
        await choices.GetByRole(AriaRole.Checkbox, new() { Name = "Bob" }).CheckAsync();
        await alice.Button("Add to group").ClickAsync();
        await Expect(alice.MemberCount).ToHaveTextAsync("3 members");
        await Expect(bob.Chat("Team")).ToBeVisibleAsync();
    }

    [SkippableFact]
    public async Task A_long_history_loads_page_by_page_upwards_keeping_the_place_until_the_first_message_each_once_in_order()
    {
        var server = await StartAsync();
        var aliceUser = await RegisterAsync("alice", "Alice");
        var bobUser = await RegisterAsync("bob", "Bob");
        await BefriendAsync(aliceUser, bobUser);

        // 130 messages from Bob, sent over his socket; Alice's own socket reads them all, so her next
        // connection has nothing to catch up on and the page must go to the history for them.
        const int seeded = 130;
        string[] texts = [.. Enumerable.Range(1, seeded).Select(i => $"m{i:000}")];
        await using var bobSocket = await EasyImClient.ConnectAsync("127.0.0.1", server.Port, ClientTransport.WebSocketJson);
        await bobSocket.HandshakeAsync(bobUser.Id, bobUser.Token);
        await using (var aliceSocket = await EasyImClient.ConnectAsync("127.0.0.1", server.Port, ClientTransport.WebSocketJson))
        {
            await aliceSocket.HandshakeAsync(aliceUser.Id, aliceUser.Token);
            for (var i = 0; i < seeded; i++)
                await bobSocket.SendAsync(Frames.Chat(aliceUser.Id, texts[i], $"h-{i + 1}", seq: (uint)(i + 1)));
            Msg? last = null;
            for (var i = 1; i <= seeded; i++)
            {
                var ack = await bobSocket.WaitForAsync(m => m.ClientMsgId == $"h-{i}" && m.MsgType == Msg.Types.MsgType.Text, Wait);
                Assert.Equal((Msg.Types.MsgStatus.Sent, (ulong)i), (ack.Status, ack.ConversationSeq));
                last = ack;
            }
            await aliceSocket.WaitForAsync(m => m.Id == last!.Id, Wait);
            await aliceSocket.SendAsync(Frames.Event("READ", new Dictionary<string, object?> { ["conversation_id"] = last!.ConversationId, ["seq"] = seeded }));
            // Her cursor has moved once Bob hears of the receipt.
            await bobSocket.WaitForAsync(m => Frames.IsEvent(m, "READ") && m.Status == Msg.Types.MsgStatus.Read, Wait);
        }

        var alice = await NewPageAsync();
        await alice.LogInAsync("alice", Password);
        await alice.OpenChatAsync("Bob");

        // The newest page, scrolled to its end.
        await Expect(alice.MessageTexts).ToHaveTextAsync(texts[^50..]);
        await Expect(alice.Message("m130")).ToBeInViewportAsync();
        await Expect(alice.LoadOlder).ToBeVisibleAsync();

        // Scrolling to the top brings the page before it, and what was at the top stays in view.
        await alice.Messages.EvaluateAsync("list => { list.scrollTop = 0; }");
        await Expect(alice.MessageTexts).ToHaveTextAsync(texts[^100..]);
        await Expect(alice.Message("m081")).ToBeInViewportAsync();
        await Expect(alice.Message("m031")).Not.ToBeInViewportAsync();

        // A message arriving meanwhile joins at the end; the button brings the rest; each message once, in order.
        await bobSocket.SendAsync(Frames.Chat(aliceUser.Id, "m131", "h-131", seq: 131));
        await Expect(alice.Message("m131")).ToBeVisibleAsync();
        await alice.LoadOlder.ClickAsync();
        await Expect(alice.MessageTexts).ToHaveTextAsync([.. texts, "m131"]);
        await Expect(alice.Message("m081")).ToBeInViewportAsync();
        await Expect(alice.Message("m001")).Not.ToBeInViewportAsync();
        await Expect(alice.LoadOlder).ToBeHiddenAsync();
        await Expect(alice.Page.GetByText("Start of the conversation")).ToBeVisibleAsync();
    }

    private async Task RemoveFriendAsync(string token, long friendId)
    {
        using var http = new HttpClient { BaseAddress = _server!.BaseAddress, Timeout = Wait };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/user/friend/remove")
        {
            Content = JsonContent.Create(new { friend_id = friendId.ToString() }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
