"""A graph that asks the human a question (the tutorial's "Should I proceed?")."""

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph

from langgraph_ollama_local import ask_human
from langgraph_ollama_local.agent.state import AgentState


def confirm(state: AgentState) -> dict:
    answer = ask_human("Should I proceed?", choices=["yes", "no"])
    return {"messages": [AIMessage(content="Proceeding." if answer == "yes" else "Okay, I won't proceed.")]}


builder = StateGraph(AgentState)
builder.add_node("confirm", confirm)
builder.add_edge(START, "confirm")
builder.add_edge("confirm", END)
graph = builder.compile()
