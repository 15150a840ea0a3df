// The tree drawn with React Flow at ELK's positions; nodes show kind, state and problems.
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Connection,
  type Edge,
  type Node,
  type NodeChange,
  type NodeProps,
  type ReactFlowInstance,
} from "@xyflow/react";
import { memo, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import type { GraphEdge, TreeGraph } from "../tree/graph";
import { elkLayout, layoutNow, NODE_HEIGHT, NODE_WIDTH, type Box } from "../tree/layout";
import { isTakenEdge, type NodeState } from "../tree/runState";

export interface CanvasNodeData extends Record<string, unknown> {
  label: string;
  kind: string;
  detail: string;
  state?: NodeState;
  problems: number;
  start: boolean;
}

const TreeNodeView = memo(function TreeNodeView({ data, selected }: NodeProps<Node<CanvasNodeData>>) {
  const classes = ["tf-node", `kind-${data.kind}`, data.state ? `state-${data.state}` : "", selected ? "selected" : ""];
  return (
    <div className={classes.join(" ")} data-testid={`node-${data.label}`} data-state={data.state ?? ""}>
      <Handle type="target" position={Position.Top} />
      <div className="tf-node-kind">
        {data.kind}
        {data.start ? " · start" : ""}
      </div>
      <div className="tf-node-id">{data.label}</div>
      {data.detail && <div className="tf-node-detail">{data.detail}</div>}
      {data.state && <span className="tf-state">{data.state}</span>}
      {data.problems > 0 && (
        <span className="tf-problems" title={`${data.problems} problem(s)`}>
          {data.problems} problem{data.problems > 1 ? "s" : ""}
        </span>
      )}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
});

const NODE_TYPES = { tree: TreeNodeView };

function edgeLabel(edge: GraphEdge): string | undefined {
  if (edge.role === "branch") {
    const id = edge.branch?.id;
    const when = edge.branch?.when;
    return typeof id === "string" ? id : typeof when === "string" ? when.slice(0, 24) : `#${edge.order + 1}`;
  }
  return edge.role === "next" ? undefined : edge.role;
}

function detailOf(data: Record<string, unknown>): string {
  for (const field of ["tool", "strategy", "tree", "prompt"]) {
    const value = data[field];
    if (typeof value === "string") return value.length > 28 ? value.slice(0, 27) + "…" : value;
  }
  return "";
}

export interface TreeCanvasProps {
  graph: TreeGraph;
  states?: Map<string, NodeState>;
  problems?: Map<string, unknown[]>;
  selected?: string | null;
  onSelect?: (id: string | null) => void;
  onConnect?: (source: string, target: string) => void;
  editable?: boolean;
  /** A palette entry dropped on the canvas: its drag data and the node it landed on. */
  onDropData?: (data: string, onNode: string | null) => void;
  /** The drag data type the canvas accepts drops of. */
  dropType?: string;
}

/** The node whose laid-out box holds a flow position, if any. */
function nodeAt(boxes: Map<string, Box>, point: { x: number; y: number }): string | null {
  for (const [id, box] of boxes) {
    if (point.x >= box.x && point.x <= box.x + box.width && point.y >= box.y && point.y <= box.y + box.height) return id;
  }
  return null;
}

export function TreeCanvas(props: TreeCanvasProps) {
  const { graph, states, problems, selected, onSelect, onConnect, onDropData, dropType, editable = false } = props;
  const [flow, setFlow] = useState<ReactFlowInstance<Node<CanvasNodeData>> | null>(null);
  const accepts = (event: DragEvent) => editable && !!dropType && event.dataTransfer.types.includes(dropType);
  const onDragOver = (event: DragEvent) => {
    if (!accepts(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  };
  const onDrop = (event: DragEvent) => {
    if (!accepts(event) || !flow) return;
    event.preventDefault();
    // Positions are derived (ELK), so the drop point only says which node it landed on.
    const point = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    onDropData?.(event.dataTransfer.getData(dropType!), boxes ? nodeAt(boxes, point) : null);
  };
  // Keyboard selection (Enter on a focused node) arrives as a select change.
  const onNodesChange = (changes: NodeChange<Node<CanvasNodeData>>[]) => {
    for (const change of changes) if (change.type === "select" && change.selected) onSelect?.(change.id);
  };
  // Re-layout only when the shape changes (ids and edges), not on every field edit.
  const shape = useMemo(
    () => JSON.stringify([graph.nodes.map((n) => n.id), graph.edges.map((e) => [e.source, e.target, e.role, e.order])]),
    [graph],
  );
  // An acyclic tree is laid out during this render (milliseconds): React Flow mounts
  // once, at its positions. A tree with a loop waits for ELK (null until then).
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const now = useMemo(() => layoutNow(graph), [shape]);
  const [elkBoxes, setElkBoxes] = useState<{ shape: string; boxes: Map<string, Box> } | null>(null);
  useEffect(() => {
    if (now) return;
    let live = true;
    elkLayout(graph).then((boxes) => live && setElkBoxes({ shape, boxes }));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, now]);
  // The last layout stays up while ELK runs (no blank canvas between two shapes).
  const last = useRef<Map<string, Box> | null>(null);
  const boxes = now ?? (elkBoxes?.shape === shape ? elkBoxes.boxes : last.current);
  last.current = boxes;
  // The layout moves nodes when the shape changes: keep them all in view.
  useEffect(() => {
    if (!flow || !boxes) return;
    const frame = requestAnimationFrame(() => void flow.fitView({ maxZoom: 1 }));
    return () => cancelAnimationFrame(frame);
  }, [flow, boxes]);
  // Node objects keep their identity unless their own facts change, so React Flow
  // re-renders only the nodes that did (a selection re-renders two, not all).
  const problemCounts = JSON.stringify([...(problems ?? new Map<string, unknown[]>())].map(([id, list]) => [id, list.length]));
  const unselected: Node<CanvasNodeData>[] = useMemo(() => {
    const counts = new Map<string, number>(JSON.parse(problemCounts) as [string, number][]);
    return graph.nodes.map((node) => {
      const box = boxes?.get(node.id);
      return {
        id: node.id,
        type: "tree",
        position: { x: box?.x ?? 0, y: box?.y ?? 0 },
        // Known sizes: fitView and culling of off-screen nodes need no DOM measurement.
        initialWidth: NODE_WIDTH,
        initialHeight: NODE_HEIGHT,
        ariaLabel: `${node.kind} node ${node.id}${states?.get(node.id) ? `, ${states.get(node.id)}` : ""}`,
        data: {
          label: node.id,
          kind: node.kind,
          detail: detailOf(node.data),
          state: states?.get(node.id),
          problems: counts.get(node.id) ?? 0,
          start: graph.start === node.id,
        },
      };
    });
  }, [graph, boxes, states, problemCounts]);
  const nodes = useMemo(
    () => unselected.map((node) => (node.id === selected ? { ...node, selected: true } : node)),
    [unselected, selected],
  );
  const edges: Edge[] = useMemo(() => {
    const ids = new Set(graph.nodes.map((n) => n.id));
    return graph.edges
      .filter((e) => ids.has(e.target))
      .map((e) => ({
        id: e.id,
        source: e.source,
        target: e.target,
        label: edgeLabel(e),
        markerEnd: { type: MarkerType.ArrowClosed },
        className: isTakenEdge(states, e.source, e.target) ? "taken" : "",
      }));
  }, [graph, states]);
  return (
    <div className="canvas" data-testid="canvas" data-laid-out={boxes ? "yes" : "no"} onDragOver={onDragOver} onDrop={onDrop}>
      {boxes === null ? (
        <p role="status" className="hint">Laying out…</p>
      ) : (
        <ReactFlow
          onInit={setFlow}
          onNodesChange={onNodesChange}
          deleteKeyCode={null}
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          fitView
          fitViewOptions={{ maxZoom: 1 }}
          onlyRenderVisibleElements
          nodesDraggable={false}
          nodesConnectable={editable}
          elementsSelectable
          onNodeClick={(_e, node) => onSelect?.(node.id)}
          onPaneClick={() => onSelect?.(null)}
          onConnect={(c: Connection) => c.source && c.target && onConnect?.(c.source, c.target)}
          proOptions={{ hideAttribution: true }}
          minZoom={0.2}
        >
          <Background />
          <Controls showInteractive={false} />
        </ReactFlow>
      )}
    </div>
  );
}
