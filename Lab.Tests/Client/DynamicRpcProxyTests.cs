using Lab.Client;
using Lab.Protocol.Messages;
using Lab.Tests.Client.Support;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Client;

public class DynamicRpcProxyTests
{
    [Test]
    public async Task Calls_read_like_the_labs_proxy_and_return_natural_values()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);
        dynamic lab = client.AsDynamic();

        object sum = lab.add(1, 2);
        object withKeyword = lab.add(1, 2, c: 5);
        object greeting = lab.hi("bob");
        object area = lab.area_of_circle(1);
        object slept = lab.sleep(0);

        sum.ShouldBe(13L);
        withKeyword.ShouldBe(8L);
        greeting.ShouldBe("hi bob, welcome");
        area.ShouldBe(Math.PI);
        slept.ShouldBe(0L);
    }

    [Test]
    public async Task Lists_and_objects_come_back_as_List_and_Dictionary()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);
        dynamic lab = client.AsDynamic();

        object echoed = lab.echo(payload: new Dictionary<string, object?> { ["items"] = new object[] { 1, 2.5, "x", true } });

        var dictionary = echoed.ShouldBeOfType<Dictionary<string, object?>>();
        dictionary["items"].ShouldBeOfType<List<object?>>().ShouldBe([1L, 2.5, "x", true]);
    }

    [Test]
    public async Task A_remote_error_surfaces_as_RpcRemoteException()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);
        dynamic lab = client.AsDynamic();

        var failure = Should.Throw<RpcRemoteException>(() => { lab.divide(1, 0); });

        failure.Code.ShouldBe(RpcErrorCode.MethodFailed);
    }
}
